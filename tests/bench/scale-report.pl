#!/usr/bin/perl
# scale-report.pl PARAMS RESULTS OUTDIR [PLOT] — the report of
# tests/bench/scale.sh: OUTDIR/scale.md (tables of time and memory by tag
# count, against the network's bound and tmpfs) and the plot of both, an
# SVG (gnuplot, when installed) at PLOT (default OUTDIR/scale.svg).
#
# PARAMS: KEY=VALUE lines. RESULTS: POINT TAB KEY TAB VALUE lines, POINT a
# tag count or "big" (the one large image).
use strict;
use warnings;
use POSIX qw(ceil);
use List::Util qw(max);
use File::Basename qw(dirname);
use File::Spec;

die "usage: scale-report.pl PARAMS RESULTS OUTDIR [PLOT]\n" unless @ARGV == 3 || @ARGV == 4;
my ($params_file, $results_file, $outdir, $plot) = @ARGV;
$plot //= "$outdir/scale.svg";
my (%P, %R);
open my $pf, '<', $params_file or die "scale-report.pl: $params_file: $!\n";
while (<$pf>) { chomp; $P{$1} = $2 if /^(\w+)=(.*)$/; }
close $pf;
open my $rf, '<', $results_file or die "scale-report.pl: $results_file: $!\n";
while (<$rf>) { chomp; my ($p, $k, $v) = split /\t/, $_, 3; $R{$p}{$k} = $v; }
close $rf;

my @points = split ' ', $P{points};
my ($lat, $R) = ($P{latency_ms} / 1000, $P{max_requests});
my $eff = $P{cap} > 0 && $P{cap} < $P{page_size} ? $P{cap} : $P{page_size};

# The network's bound, as tests/bench/report.pl counts it: round trips of
# each level of listings (root, 10 image lists, 10 x I tag listings of
# 1,000), R requests in flight, plain offset paging.
sub pages { my $n = shift; return max(1, ceil($n / $eff)); }
sub overlap_pages { my $n = shift; return $eff <= 1 || $n <= $eff ? pages($n) : 1 + ceil(($n - $eff) / ($eff - 1)); }
sub trips { my $p = shift; return 1 + ceil(($p - 1) / $R); }
sub level_trips { my ($count, $p) = @_; return max(ceil($count * $p / $R), trips($p)); }
sub images { return $_[0] / 10000; }
sub bound {
	my $i = images(shift);
	return $lat * (trips(pages(10)) + level_trips(10, pages($i)) + level_trips(10 * $i, pages(1000)));
}
# The same with the pages the overlap check makes (src/pages.c).
sub overlap_bound {
	my $i = images(shift);
	return $lat * (trips(overlap_pages(10)) + level_trips(10, overlap_pages($i)) +
		       level_trips(10 * $i, overlap_pages(1000)));
}
sub plain_calls { my $i = images(shift); return 10 * $i * pages(1000); }
sub overlap_calls { my $i = images(shift); return 10 * $i * overlap_pages(1000); }

sub t {
	my $v = shift;
	return '—' unless defined $v && $v ne '';
	return $v unless $v =~ /^[\d.]+$/;
	return sprintf('%.4f', $v) if $v < 0.01;
	return sprintf('%.3f', $v) if $v < 1;
	return sprintf('%.2f', $v) if $v < 10;
	return sprintf('%.1f', $v);
}
sub ratio { my ($a, $b) = @_; return defined $a && defined $b && $a =~ /^[\d.]+$/ && $b > 0 ? sprintf('%.2f', $a / $b) : '—'; }
sub mib { my $b = shift; return defined $b && $b ne '' ? sprintf('%.1f', $b / 1048576) : '—'; }
sub commify { my $n = reverse shift; $n =~ s/(\d{3})(?=\d)/$1,/g; return scalar reverse $n; }
# The inode table: 32-byte slots, a power of two, grown at 4/5 load.
sub table_bytes {
	my $n = shift // 0;
	my $slots = 1024;
	$slots *= 2 while $n * 5 > $slots * 4;
	return $slots * 32;
}
sub per_tag { my ($p, $a, $b) = @_; return defined $R{$p}{$a} && defined $R{$p}{$b} ? ($R{$p}{$a} - $R{$p}{$b}) / $p : undef; }

my @md;
sub out { push @md, @_; }
out '# imgtagfs at scale', '';
out sprintf('Machine: %s CPUs (%s), %s GiB, %s; %s; load average %s at the start, %s at the end (and after each '
	    . 'registry: in the tables). imgtagfs at commit %s. The whole run took %s s.',
	    $P{nproc}, $P{cpu}, $P{mem}, $P{kernel}, $P{date}, $P{load_start}, $P{load_end}, $P{commit}, $P{elapsed});
out '';
out sprintf('Parameters: latency %s ms per request, server page cap %s, page_size=%s max_requests=%s ttl=%s, '
	    . 'cache_size at its default (256M; cache_evictions: %s); %s repetitions of each '
	    . 'warm run (median). Registries: 10 repositories x I images x 1,000 tags (uhub-sim --gen, every fifth '
	    . 'image nested as team/img-NN); the large image: one image of %s tags.',
	    $P{latency_ms}, $P{cap} || 'none', $P{page_size}, $P{max_requests}, $P{ttl},
	    join(', ', map { $R{$_}{cache_evictions} // '?' } @points), $P{reps}, commify($P{big}));
out '', '## Time (seconds)', '';
out '| tags | cold `find` | network bound (with the overlap check) | ÷ bound (÷ with the check) | API calls (plain paging; with the overlap check) | warm `find` (requests) | tmpfs | ÷ tmpfs | first `grep -rl` (READs) | warm `grep -rl` (requests) | tmpfs | ÷ tmpfs | load |';
out '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
for my $p (@points) {
	my $r = $R{$p};
	out sprintf('| %s | %s | %s (%s) | %s (%s) | %s (%s; %s) | %s (%s) | %s | %s | %s (%s) | %s (%s) | %s | %s | %s |', commify($p),
		    t($r->{cold_find}) . ($r->{cold_find_status} ? " ($r->{cold_find_status})" : ''), t(bound($p)),
		    t(overlap_bound($p)), ratio($r->{cold_find}, bound($p)), ratio($r->{cold_find}, overlap_bound($p)),
		    $r->{cold_calls} // '—', plain_calls($p), overlap_calls($p),
		    t($r->{warm_find}), $r->{warm_find_ops} // '—', t($r->{tmpfs_find}), ratio($r->{warm_find}, $r->{tmpfs_find}),
		    t($r->{first_grep}), $r->{first_grep_reads} // '—', t($r->{warm_grep}), $r->{warm_grep_ops} // '—',
		    t($r->{tmpfs_grep}),
		    ratio($r->{warm_grep}, $r->{tmpfs_grep}), $r->{load} // '—');
}
out '', 'Requests: the lookups, stats and directory reads (and reads, for grep) that reached imgtagfs during the '
    . 'warm runs, all repetitions together (API calls: none). Tens of thousands mean the kernel let names go '
    . 'meanwhile (memory pressure, or a drop_caches by another process on a shared machine).';
out '', '## Memory and the kernel letting go', '';
out '| tags | daemon RSS mounted / cached (MiB) | RSS per cached tag | listings (cache_bytes) per tag | inodes held | inode table | tmpfs (a page a file) | drop_caches: forgets in (s) | RSS after (MiB) | `find` after (s, API calls) | SIGHUP: flushed in (s) | kernel let go in (s) | RSS after (MiB) |';
out '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
for my $p (@points) {
	my $r = $R{$p};
	my $rss = per_tag($p, 'rss_cached', 'rss_mounted');
	out sprintf('| %s | %s / %s | %s B | %s B | %s | %s MiB | %s MiB | %s | %s | %s (%s) | %s | %s | %s |', commify($p),
		    mib($r->{rss_mounted}), mib($r->{rss_cached}), defined $rss ? sprintf('%.0f', $rss) : '—',
		    defined $r->{cache_bytes} ? sprintf('%.0f', $r->{cache_bytes} / $p) : '—', commify($r->{inodes} // 0),
		    mib(table_bytes($r->{inodes})), mib($r->{tmpfs_bytes}), t($r->{drop_forgotten}),
		    mib($r->{rss_after_drop}), t($r->{find_after_drop}), $r->{find_after_drop_calls} // '—',
		    t($r->{hup_logged}), t($r->{hup_forgotten}), mib($r->{rss_after_hup}));
}
# Linear in what it touches: each operation's time per tag at the largest
# registry against the smallest (1.00: exactly linear).
if (@points > 1) {
	my ($lo, $hi) = ($points[0], $points[-1]);
	my @l;
	for (['cold `find`', 'cold_find'], ['warm `find`', 'warm_find'], ['first `grep -rl`', 'first_grep'],
	     ['warm `grep -rl`', 'warm_grep'], ['drop_caches forgets', 'drop_forgotten'],
	     ['SIGHUP until the kernel let go', 'hup_forgotten'], ['RSS growth', undef]) {
		my ($name, $k) = @$_;
		my ($a, $b) = $k ? ($R{$lo}{$k}, $R{$hi}{$k})
				 : (per_tag($lo, 'rss_cached', 'rss_mounted'), per_tag($hi, 'rss_cached', 'rss_mounted'));
		next unless defined $a && defined $b && $a =~ /^[\d.]+$/ && $b =~ /^[\d.]+$/ && $a > 0;
		push @l, sprintf('%s %.2f', $name, $k ? ($b / $hi) / ($a / $lo) : $b / $a);
	}
	out '', sprintf('**Per tag, %s tags against %s** (1.00: linear; above it, slower than linear): %s.',
			commify($hi), commify($lo), join('; ', @l));
}
my $b = $R{big};
my $bb = $lat * trips(pages($P{big}));
out '', sprintf('**One image of %s tags**: a cold `ls -l` took %s s (%s API calls; the network bound %s s, '
		. '%s x), a warm one %s s, tmpfs %s s (%s x); the daemon held %s MiB.', commify($P{big}), t($b->{cold_ls}),
		$b->{cold_calls} // '—', t($bb), ratio($b->{cold_ls}, $bb), t($b->{warm_ls}), t($b->{tmpfs_ls}),
		ratio($b->{warm_ls}, $b->{tmpfs_ls}), mib($b->{rss}));
out '', sprintf('![time and memory against tag count](%s)', File::Spec->abs2rel($plot, $outdir)) if plot();
out '', '## Every run', '';
out '| registry | measurement | value |', '|---|---|---|';
for my $p (@points, 'big') {
	out sprintf('| %s | %s | %s |', $p, $_, $R{$p}{$_}) for sort keys %{$R{$p}};
}
my $md = join("\n", @md) . "\n";
open my $of, '>', "$outdir/scale.md" or die "scale-report.pl: $outdir/scale.md: $!\n";
print $of $md;
close $of;
print $md;

sub plot {
	return 0 unless grep { -x "$_/gnuplot" } split /:/, $ENV{PATH};
	my $dat = "$outdir/.scale.dat";
	open my $df, '>', $dat or die "scale-report.pl: $dat: $!\n";
	print $df "# tags bound cold warm_find tmpfs_find first_grep warm_grep tmpfs_grep hup rss_mib cache_mib table_mib\n";
	for my $p (@points) {
		my $r = $R{$p};
		my @v = (bound($p), map { $r->{$_} // '?' } qw(cold_find warm_find tmpfs_find first_grep warm_grep tmpfs_grep
								 hup_forgotten));
		push @v, map { defined $_ ? $_ / 1048576 : '?' } ($r->{rss_cached} // 0) - ($r->{rss_mounted} // 0),
		    $r->{cache_bytes}, table_bytes($r->{inodes});
		print $df join(' ', $p, map { /^[\d.e+-]+$/ ? $_ : '?' } @v), "\n";
	}
	close $df;
	my $title = sprintf('latency %s ms, page cap %s, max_requests %s (%s CPUs, %s)', $P{latency_ms}, $P{cap},
			    $P{max_requests}, $P{nproc}, substr($P{date}, 0, 10));
	my $gp = <<"GP";
set terminal svg size 1200,600 font "sans,11" noenhanced dynamic background rgb "white"
set output "$plot"
set datafile missing "?"
set multiplot layout 1,2 title "imgtagfs by tag count: $title"
set logscale xy
set xlabel "tags"
set ylabel "seconds (log scale)"
set format x "%.0s%c"
set key below reverse Left
set grid
plot "$dat" using 1:2 with lines linewidth 1 linecolor rgb "gray50" title "network bound (cold find)", \\
     "" using 1:3 with linespoints linewidth 2 title "cold find", \\
     "" using 1:4 with linespoints linewidth 2 title "warm find", \\
     "" using 1:5 with linespoints title "tmpfs warm find", \\
     "" using 1:6 with linespoints linewidth 2 title "first grep -rl", \\
     "" using 1:7 with linespoints linewidth 2 title "warm grep -rl", \\
     "" using 1:8 with linespoints title "tmpfs warm grep -rl", \\
     "" using 1:9 with linespoints title "SIGHUP, until the kernel let go"
unset logscale
set xrange [0:*]
set ylabel "MiB (linear scales: a straight line is linear)"
set yrange [0:*]
plot "$dat" using 1:10 with linespoints linewidth 2 title "daemon RSS growth", \\
     "" using 1:11 with linespoints linewidth 2 title "cached listings (cache_bytes)", \\
     "" using 1:12 with linespoints linewidth 2 title "inode table (32 B slots)"
unset multiplot
GP
	open my $gf, '|-', 'gnuplot' or return 0;
	print $gf $gp;
	close $gf or warn "scale-report.pl: gnuplot failed\n";
	unlink $dat;
	return -s $plot ? 1 : 0;
}
