#!/usr/bin/perl
# report.pl PARAMS RESULTS OUTDIR — the benchmark's report: medians, the
# network lower bounds, ratios against the issue's targets and every run,
# as markdown on stdout and in OUTDIR/results.md; the cold-listing plot as
# OUTDIR/cold-listing.png (gnuplot, when installed).
#
# PARAMS: KEY=VALUE lines (machine, parameters, W6 readings) from run.sh.
# RESULTS: W TAB CONTENDER TAB REP TAB SECONDS TAB STATUS TAB LINES TAB
# COUNTERS (the simulator's /_sim/stats JSON for that run alone).
use strict;
use warnings;
use POSIX qw(ceil);
use List::Util qw(max sum);

die "usage: report.pl PARAMS RESULTS OUTDIR\n" unless @ARGV == 3;
my ($params_file, $results_file, $outdir) = @ARGV;

my %P;
open my $pf, '<', $params_file or die "report.pl: $params_file: $!\n";
while (<$pf>) {
	chomp;
	$P{$1} = $2 if /^(\w+)=(.*)$/;
}
close $pf;

my (%runs, @order);
open my $rf, '<', $results_file or die "report.pl: $results_file: $!\n";
while (<$rf>) {
	chomp;
	my ($w, $c, $rep, $t, $st, $lines, $json) = split /\t/;
	my %cnt = ($json // '') =~ /"([^"]+)":(\d+)/g;
	push @order, "$w\t$c" unless $runs{"$w\t$c"};
	push @{$runs{"$w\t$c"}}, {rep => $rep, t => $t, st => $st, lines => $lines, cnt => \%cnt};
}
close $rf;

my @contenders = split ' ', $P{contenders};
my %has = map { $_ => 1 } @contenders;
my ($lat, $R) = ($P{latency_ms} / 1000, $P{max_requests});
my $eff = $P{cap} > 0 && $P{cap} < $P{page_size} ? $P{cap} : $P{page_size};

# ---- the network's lower bounds: round trips x latency ----

# One listing of n items at R requests in flight: the first page tells the
# total, the rest go R at a time.
sub pages { my $n = shift; return max(1, ceil($n / $eff)); }
# The pages imgtagfs asks for: after the first, each overlaps the page
# before by one item, so that a list that moves while it is paged is seen
# to (src/pages.c): 1 + ceil((n - page) / (page - 1)).
sub overlap_pages {
	my $n = shift;
	return pages($n) if $eff <= 1 || $n <= $eff;
	return 1 + ceil(($n - $eff) / ($eff - 1));
}
sub trips { my $p = shift; return 1 + ceil(($p - 1) / $R); }

# A level of listings (count of them, pages each) all known at once.
sub level_trips {
	my ($count, $p) = @_;
	return max(ceil($count * $p / $R), trips($p));
}

my $w3_pages = pages($P{repos}) + $P{repos} * pages($P{images}) + $P{repos} * $P{images} * pages($P{tags});
my $w3_overlap = overlap_pages($P{repos}) + $P{repos} * overlap_pages($P{images})
    + $P{repos} * $P{images} * overlap_pages($P{tags});
my $w3_trips = trips(pages($P{repos})) + level_trips($P{repos}, pages($P{images})) +
    level_trips($P{repos} * $P{images}, pages($P{tags}));

sub bound {
	my $w = shift;
	return $lat * trips(pages($1)) if $w =~ /^W1:(\d+)$/;
	return $lat * $w3_trips if $w eq 'W3c';
	return $lat if $w eq 'W5';
	return undef;
}

# API pages a workload needs, beyond what the mount fetched at start-up,
# by plain paging: [GetImageTag, all API calls, all API calls with pages
# that overlap by one]. Warm workloads need none.
sub needed {
	my $w = shift;
	return [pages($1), pages($1) + 1, overlap_pages($1) + 1] if $w =~ /^W1:(\d+)$/;
	return [$P{repos} * $P{images} * pages($P{tags}), $w3_pages, $w3_overlap] if $w eq 'W3c';
	return [1, 2, 2] if $w eq 'W5';
	return [0, 0, 0];
}

# ---- medians ----

sub median {
	my @v = sort { $a <=> $b } @_;
	return undef unless @v;
	return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub api_calls {
	my $cnt = shift;
	return sum(0, map { $cnt->{$_} } grep { $_ ne 'tree' } keys %$cnt);
}

sub want_lines {
	my $w = shift;
	return $1 + 1 if $w =~ /^W1:(\d+)$/ || $w =~ /^W2:(\d+)$/;
	return $P{total} if $w =~ /^W3/;
	return undef;
}

# The summary of one (workload, contender): {t, st, n, calls, cnt, est}.
sub cell {
	my ($w, $c) = @_;
	my $runs = $runs{"$w\t$c"} or return undef;
	my @ok = grep { $_->{st} eq 'ok' } @$runs;
	my @bad = grep { $_->{st} ne 'ok' } @$runs;
	my $first = $ok[0] // $bad[0];
	my %s = (n => scalar @$runs, cnt => $first->{cnt});
	$s{calls} = $c eq 'httpdirfs' || $c eq 'rclone' ? ($first->{cnt}{tree} // 0) : api_calls($first->{cnt});
	if (@bad) {
		my $b = $bad[0];
		$s{st} = $b->{st};
		$s{t} = $b->{t};
		my $want = $w =~ /^W1:(\d+)/ ? $1 : want_lines($w);
		# How far a timed-out walk got, and what the whole would take at
		# that pace.
		if ($b->{st} eq 'timeout' && $want && $b->{lines} > 0) {
			$s{done} = $b->{lines} / $want;
			$s{est} = $b->{t} / $s{done} if $w =~ /^W3/;
		}
		return \%s;
	}
	$s{st} = 'ok';
	$s{t} = median(map { $_->{t} } @ok);
	return \%s;
}

sub fmt_t {
	my $t = shift;
	return '—' unless defined $t;
	return sprintf('%.4f', $t) if $t < 0.01;
	return sprintf('%.3f', $t) if $t < 1;
	return sprintf('%.2f', $t) if $t < 10;
	return sprintf('%.1f', $t);
}

sub show {
	my $s = shift;
	return 'n/a' unless $s;
	return fmt_t($s->{t}) . ($s->{n} < $P{reps} ? '¹' : '') if $s->{st} eq 'ok';
	if ($s->{st} eq 'timeout') {
		my $txt = sprintf('timeout >%ss', $P{timeout});
		$txt .= sprintf(' (%.0f%% done, ~%ss)', 100 * $s->{done}, fmt_t($s->{est})) if $s->{est};
		$txt .= sprintf(' (%.0f%% done)', 100 * $s->{done}) if $s->{done} && !$s->{est};
		return $txt;
	}
	return $s->{st};
}

# A time usable in a ratio: the median, or the estimate of a timeout
# (then the ratio is a lower limit).
sub t_of {
	my $s = shift;
	return (undef, '') unless $s;
	return ($s->{t}, '') if $s->{st} eq 'ok';
	return ($s->{est}, '~') if $s->{est};
	return ($s->{t}, '>') if $s->{st} eq 'timeout';
	return (undef, '');
}

sub ratio {
	my ($a, $b) = @_;
	my ($ta, $qa) = t_of($a);
	my ($tb, $qb) = ref $b ? t_of($b) : ($b, '');
	return '—' unless defined $ta && defined $tb && $tb > 0;
	return $qa . sprintf('%.2f', $ta / $tb) if $ta / $tb < 10;
	return $qa . sprintf('%.0f', $ta / $tb);
}

my %label = (
	W2 => 'W2 warm `ls -l`',
	W3c => 'W3 cold `find | wc -l`',
	W3w => 'W3 warm `find | wc -l`',
	W4c => 'W4 first `grep -rl DIGEST` after a cold `find`',
	W4 => 'W4 warm `grep -rl DIGEST`',
	W5 => 'W5 cold `cat` one tag',
);

sub label {
	my $w = shift;
	return "W1 cold `ls -l`, $1 tags" if $w =~ /^W1:(\d+)$/;
	return "W2 warm `ls -l`, $1 tags" if $w =~ /^W2:(\d+)$/;
	return "$label{$w}, $P{big}-tag image" if $w eq 'W5';
	return "$label{$w}, " . commify($P{total}) . ' files' if $w =~ /^W[34]/;
	return $label{$w} // $w;
}

sub commify { my $n = reverse shift; $n =~ s/(\d{3})(?=\d)/$1,/g; return scalar reverse $n; }

my @w1 = split ' ', $P{w1};
my @rows = ((map {"W1:$_"} @w1), (map {"W2:$_"} @w1), 'W3c', 'W3w', 'W4c', 'W4', 'W5');

# ---- the tables ----

my @md;
sub out { push @md, @_; }

out "# imgtagfs benchmark", '';
out sprintf('Machine: %s CPUs (%s), %s; %s; load average %s at the start, %s at the end. '
	    . 'imgtagfs at commit %s; httpdirfs %s; rclone %s. The whole run took %s s.',
	    $P{nproc}, $P{cpu}, $P{kernel}, $P{date}, $P{load_start}, $P{load_end}, $P{commit} || '?',
	    $P{httpdirfs} || '—', $P{rclone} || '—', $P{elapsed});
out "Baseline: $P{baseline}." if $P{baseline};
out '';
out sprintf('Parameters: latency %s ms per request (API and /tree/ alike), server page cap %s, '
	    . 'imgtagfs page_size=%s max_requests=%s ttl=%s; %s repetitions (median), timeout %s s, '
	    . 'no further repetitions after a run over %s s; registry %s repos x %s images x %s tags = %s tag files.',
	    $P{latency_ms}, $P{cap} || 'none', $P{page_size}, $P{max_requests}, $P{ttl}, $P{reps}, $P{timeout},
	    $P{slow}, $P{repos}, $P{images}, $P{tags}, commify($P{total}));
out '' , '## Medians (seconds) and requests', '';
out '| workload | lower bound | imgtagfs | API calls | tmpfs | httpdirfs | HTTP reqs | rclone | HTTP reqs | naive script | API calls |';
out '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
for my $w (@rows) {
	my %s = map { $_ => cell($w, $_) } @contenders;
	my $naive = $s{naive};
	my $nshow = show($naive);
	# The naive script has no cache: its W3 warm and W4 would repeat the
	# W3 walk, so they are not run; show that walk.
	if (!$naive && $has{naive} && ($w eq 'W3w' || $w =~ /^W4/) && (my $c3 = cell('W3c', 'naive'))) {
		$naive = $c3;
		$nshow = show($c3) . '²';
	}
	out sprintf('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |', label($w), fmt_t(bound($w)),
		    show($s{imgtagfs}), $s{imgtagfs} ? $s{imgtagfs}{calls} : '—', show($s{tmpfs}), show($s{httpdirfs}),
		    $s{httpdirfs} ? $s{httpdirfs}{calls} : '—', show($s{rclone}), $s{rclone} ? $s{rclone}{calls} : '—',
		    $nshow, $naive ? $naive->{calls} : '—');
}
out '';
out "¹ fewer runs than $P{reps}: for the peers and the naive script, a run slower than $P{slow} s ends its series. "
    . '² the naive script has no cache: W3 warm and W4 walk the same pages as W3 cold, so they are not run again. '
    . 'A timeout shows how much of the output had come and, for walks, the time that pace gives for the whole.';

# ---- ratios and targets ----

my %w6;
if (defined $P{imgtagfs_rss_cached} && $P{imgtagfs_rss_cached} ne '') {
	$w6{per_tag} = ($P{imgtagfs_rss_cached} - $P{imgtagfs_rss_mounted}) / $P{total};
	$w6{per_tag_all} = $P{imgtagfs_rss_cached} / $P{total};
	$w6{cache_per_tag} = $P{imgtagfs_cache_bytes} / $P{total} if $P{imgtagfs_cache_bytes};
}
$w6{base_per_tag} = ($P{baseline_rss_cached} - $P{baseline_rss_mounted}) / $P{total}
    if defined $P{baseline_rss_cached} && $P{baseline_rss_cached} ne '';

sub verdict { my ($ok) = @_; return defined $ok ? ($ok ? 'yes' : '**no**') : '—'; }

sub num { my $r = shift; return undef if !defined $r || $r eq '—' || $r =~ /^[>~]/; return $r; }

out '', '## Ratios and the issue\'s targets', '';
out '| workload | imgtagfs ÷ bound | imgtagfs ÷ tmpfs | httpdirfs ÷ imgtagfs | rclone ÷ imgtagfs | naive ÷ imgtagfs | '
    . 'calls: made / needed | target | met |';
out '|---|---:|---:|---:|---:|---:|---:|---|---|';
for my $w (@rows) {
	my $im = cell($w, 'imgtagfs');
	# The first grep is held against tmpfs's warm one (tmpfs has no other).
	my ($b, $tm) = (bound($w), cell($w eq 'W4c' ? 'W4' : $w, 'tmpfs'));
	my $rb = ratio($im, $b);
	my $rt = ratio($im, $tm);
	my $hd = ratio(cell($w, 'httpdirfs'), $im);
	my $rc = ratio(cell($w, 'rclone'), $im);
	my $nv = ratio(cell($w, 'naive') // ($w =~ /^W3w|^W4/ ? cell('W3c', 'naive') : undef), $im);
	my $need = needed($w);
	my $calls = $im ? sprintf('%s / %s', $im->{calls}, $need->[1]) : '—';
	$calls .= sprintf(' (%s)', $need->[2]) if $im && $need->[2] != $need->[1];
	my ($target, $ok);
	my $faster = sub { my $r = shift; return $r =~ /^[>~]?([\d.]+)$/ ? $1 >= 10 : undef; };
	if ($w =~ /^W1/) {
		$target = '≤ 1.5x bound; ≥ 10x faster than httpdirfs and rclone';
		# A peer that did not run cannot fail it.
		$ok = num($rb) <= 1.5 && ($faster->($hd) // 1) && ($faster->($rc) // 1) ? 1 : 0 if defined num($rb);
	} elsif ($w =~ /^W2/) {
		$target = '≤ 1.0x tmpfs';
		$ok = num($rt) <= 1.0 ? 1 : 0 if defined num($rt);
	} elsif ($w eq 'W3c') {
		$target = '≤ 2x bound';
		$ok = num($rb) <= 2 ? 1 : 0 if defined num($rb);
	} elsif ($w eq 'W3w' || $w eq 'W4') {
		# W3w: just above a minimal low-level FUSE filesystem's floor on
		# this machine (1.31x for find); W4: the grep that reads each file's
		# pages from the page cache through FUSE.
		my $lim = $w eq 'W3w' ? 1.35 : 1.3;
		$target = "≤ ${lim}x tmpfs";
		$ok = num($rt) <= $lim ? 1 : 0 if defined num($rt);
	} elsif ($w eq 'W4c') {
		# The tag files' bytes are stored into the page cache ahead of
		# the scan instead of one READ a file.
		$target = '≤ 3x tmpfs\'s warm grep';
		$ok = num($rt) <= 3 ? 1 : 0 if defined num($rt);
	} elsif ($w eq 'W5') {
		$target = '≤ 1 GetImageTag; ≤ 1.5x bound';
		$ok = ($im->{cnt}{GetImageTag} // 0) <= 1 && num($rb) <= 1.5 ? 1 : 0 if $im && defined num($rb);
	}
	$calls .= ' ✗' if $im && $im->{calls} > $need->[2];
	out sprintf('| %s | %s | %s | %s | %s | %s | %s | %s | %s |', label($w), $rb, $rt, $hd, $rc, $nv, $calls, $target,
		    verdict($ok));
}
if (%w6) {
	out sprintf('| W6 imgtagfs RSS per cached tag | | | | | | | ≤ 150 B/tag (measured %.0f) | %s |', $w6{per_tag},
		    verdict($w6{per_tag} <= 150));
}
# W7: the fleet (eight mounts sharing one Redis).
my %w7;
if ($P{w7_walks}) {
	my @t = split ' ', $P{w7_times};
	my @rest = sort { $a <=> $b } @t[1 .. $#t];
	$w7{t1} = $t[0];
	$w7{rest_med} = @rest ? $rest[$#rest / 2] : undef;
	$w7{rest_max} = @rest ? $rest[-1] : undef;
	$w7{ratio_max} = @rest && $t[0] > 0 ? $w7{rest_max} / $t[0] : undef;
	$w7{calls_ratio} = $P{w7_base_calls} ? $P{w7_calls} / $P{w7_base_calls} : undef;
	# One walk's calls, and one start-up check per further mount.
	$w7{calls_ok} = $P{w7_calls} <= $P{w7_base_calls} + $P{w7_walks} - 1;
	out sprintf('| W7 eight mounts + one Redis, cold walks in turn | | | | | | %s / %s | API calls of one walk; '
		    . 'walks 2-8 ≤ 0.2x the first (measured %s) | %s |', $P{w7_calls}, $P{w7_base_calls},
		    defined $w7{ratio_max} ? sprintf('%.2fx', $w7{ratio_max}) : '—',
		    verdict($P{w7_walks} == 8 && $w7{calls_ok} && defined $w7{ratio_max} && $w7{ratio_max} <= 0.2));
}
out '';
out 'Bounds: latency x round trips, a listing of P pages at max_requests R taking 1 + ceil((P-1)/R); '
    . sprintf('W3 adds its levels (root, %s image listings, %s tag listings, each level at R in flight: %d round trips '
	      . 'for %d pages); W5 is one GetImageTag with TagName. ', $P{repos}, $P{repos} * $P{images}, $w3_trips,
	      $w3_pages)
    . 'Bounds leave out the lookups of the path (the repository and image listings above the one listed): '
    . 'a cold W1 or W5 needs one GetRepoImage more, counted in "needed". '
    . '"calls: made / needed" counts every API call of the run (the mount\'s start-up check excluded) against plain '
    . 'offset paging\'s count, and in parentheses the count with the consistency check: pages after the first overlap '
    . 'the page before by one item, so that a list that moves while it is paged loses nothing (src/pages.c). '
    . sprintf('That check costs W3 %d pages where plain paging makes %d (+%.0f%%: its %s-tag listings, an exact '
	      . 'multiple of the page, take %d pages each instead of %d) and a 10,000-tag listing 101 instead of 100 '
	      . '(+1%%). ✗ marks more calls than needed with the check.', $w3_overlap, $w3_pages,
	      100 * ($w3_overlap - $w3_pages) / $w3_pages, $P{tags}, overlap_pages($P{tags}), pages($P{tags}));

if (%w6 && defined $w6{per_tag}) {
	out '', '## W6: memory', '';
	out sprintf('imgtagfs daemon RSS right after mounting: %.1f MiB; with the whole registry cached (after W3 and W4): '
		    . '%.1f MiB, for %s tags: **%.0f bytes per cached tag** (growth over the mounted RSS; %.0f B/tag counting '
		    . 'the whole RSS)%s.',
		    $P{imgtagfs_rss_mounted} / 1048576, $P{imgtagfs_rss_cached} / 1048576, commify($P{total}), $w6{per_tag},
		    $w6{per_tag_all},
		    defined $w6{cache_per_tag}
		    ? sprintf('; the cache\'s own accounting (user.imgtagfs.stats cache_bytes): %.0f B/tag', $w6{cache_per_tag})
		    : '');
}

if (defined $P{imgtagfs_w4c_cached}) {
	my $files = $P{total};
	out '', '## W4 first: what the first grep costs', '';
	out sprintf('On the first mount, right after its cold `find`, the first `grep -rl` made %s READs for %s tag files '
		    . '(%.2f a directory) and stored %s files in %s batches ahead of it; the page cache (Cached of '
		    . '/proc/meminfo) grew by %.0f MiB, %.0f bytes a file (a page each; the machine is shared, so this is '
		    . 'rough).%s tmpfs holds the same files in %.0f MiB, %.0f bytes a file.',
		    $P{imgtagfs_w4c_fuse_reads} // '?', commify($files),
		    ($P{imgtagfs_w4c_fuse_reads} // 0) / ($P{repos} * $P{images}), $P{imgtagfs_w4c_store_files} // '?',
		    $P{imgtagfs_w4c_store_batches} // '?', $P{imgtagfs_w4c_cached} / 1048576,
		    $P{imgtagfs_w4c_cached} / $files,
		    defined $P{baseline_w4c_cached}
		    ? sprintf(' The baseline build: %s READs, page cache +%.0f MiB.', $P{baseline_w4c_fuse_reads} // 'n/a (no such counter)',
			      $P{baseline_w4c_cached} / 1048576)
		    : '', ($P{tmpfs_r_bytes} || 0) / 1048576, ($P{tmpfs_r_bytes} || 0) / $files);
}

if ($has{baseline}) {
	out '', '## Against the baseline build', '';
	out "Baseline: $P{baseline}, run in the same invocation with the same parameters.", '';
	out '| workload | imgtagfs | baseline | imgtagfs ÷ baseline | API calls (imgtagfs / baseline) |';
	out '|---|---:|---:|---:|---:|';
	for my $w ((map {"W1:$_"} split ' ', $P{sizes}), (map {"W2:$_"} @w1), 'W3c', 'W3w', 'W4c', 'W4', 'W5') {
		my ($im, $bs) = (cell($w, 'imgtagfs'), cell($w, 'baseline'));
		next unless $im || $bs;
		out sprintf('| %s | %s | %s | %s | %s / %s |', label($w), show($im), show($bs), ratio($im, $bs),
			    $im ? $im->{calls} : '—', $bs ? $bs->{calls} : '—');
	}
	out sprintf('| W6 RSS per cached tag | %.0f B | %.0f B | | |', $w6{per_tag} // 0, $w6{base_per_tag} // 0)
	    if defined $w6{base_per_tag};
}

if (%w7) {
	out '', '## W7: many hosts, one Redis', '';
	out sprintf('Eight imgtagfs mounts (eight daemons) share one redis-server on a unix socket '
		    . '(`-o shared_cache=unix:...`); each is mounted just before its cold walk (`find -type f` of the '
		    . '%s-file registry, kernel caches dropped), the earlier ones staying mounted. '
		    . 'API calls of all eight, start-up checks and warm-ups included: **%s**, against %s for one cold walk '
		    . 'of a mount without the tier (%.2fx; the difference is the later mounts\' start-up checks). '
		    . 'Walk times: first %.2f s (the baseline without the tier: %.2f s); walks 2-8: median %.3f s, '
		    . 'slowest %.3f s, **%.2fx the first**.', commify($P{total}), $P{w7_calls}, $P{w7_base_calls},
		    $w7{calls_ratio} // 0, $w7{t1}, $P{w7_base_t}, $w7{rest_med} // 0, $w7{rest_max} // 0,
		    $w7{ratio_max} // 0);
}

# ---- the cold listing by size, and the plot ----

my @sizes = split ' ', $P{sizes};
my @fs_order = grep { $has{$_} } qw(imgtagfs tmpfs httpdirfs rclone naive);
out '', '## Cold listing (`ls -l` of one image) by tag count, seconds', '';
out '| tags | lower bound | ' . join(' | ', @fs_order) . ' |';
out '|---:|---:|' . join('', map {'---:|'} @fs_order);
for my $n (@sizes) {
	out sprintf('| %s | %s | %s |', $n, fmt_t(bound("W1:$n")),
		    join(' | ', map { show(cell("W1:$n", $_)) } @fs_order));
}
my $png = "$outdir/cold-listing.png";
if (plot(\@sizes, \@fs_order)) {
	out '', '![cold listing time against tag count](cold-listing.png)';
} else {
	out '', '(no plot: gnuplot is not installed)';
}

out '', '## How it was measured', '';
out '- Every contender runs in the same invocation against the same two uhub-sim instances (one registry for '
    . 'the listings, one for the whole-registry walks), with the same latency on every request; the simulator\'s '
    . 'counters are zeroed before each run and read after it.';
out sprintf('- Cold: a fresh mount for each repetition once its start-up requests are over (not counted: imgtagfs\'s mount-time check and its warm-up of the root and image listings), then the kernel\'s '
	    . 'page, dentry and inode caches dropped (`echo 3 > /proc/sys/vm/drop_caches`: %s). tmpfs keeps its '
	    . 'files in those caches, so its cold run is the warm floor; the naive script has no cache, so its warm run '
	    . 'is a cold one.', $P{dropped} eq 'yes' ? 'done' : 'not permitted here');
out '- Warm: the same mount again right after its first cold run, within the TTL '
    . "($P{ttl} s; rclone --dir-cache-time the same; httpdirfs never expires).";
out '- httpdirfs and rclone mount the simulator\'s /tree/ view (minimal Apache-style index pages; files answer '
    . 'HEAD with Content-Length and Last-Modified, and byte ranges); both run with their defaults (httpdirfs: '
    . '10 connections, no disk cache; rclone: --vfs-cache-mode off, 8 checkers issuing one HEAD per file).';
out '- The naive script is tests/bench/naive.sh: curl and jq, one signed request after the other.';
out '- Every output is checked (line counts, the tag file\'s bytes); a wrong one is reported as `wrong`.';
out '- The machine is shared: other jobs running at the same time show in the load averages above, and in the times.';

out '', '## Every run', '';
out '| workload | contender | runs: seconds (status) | counters of the first run |';
out '|---|---|---|---|';
for my $k (@order) {
	my ($w, $c) = split /\t/, $k;
	my $runs = $runs{$k};
	my $list = join ', ', map { fmt_t($_->{t}) . ($_->{st} eq 'ok' ? '' : " ($_->{st})") } @$runs;
	my $cnt = $runs->[0]{cnt};
	out sprintf('| %s | %s | %s | %s |', $w, $c, $list, join(' ', map {"$_=$cnt->{$_}"} sort keys %$cnt) || '—');
}

my $md = join("\n", @md) . "\n";
open my $of, '>', "$outdir/results.md" or die "report.pl: $outdir/results.md: $!\n";
print $of $md;
close $of;
print $md;

sub plot {
	my ($sizes, $names) = @_;
	return 0 unless grep { -x "$_/gnuplot" } split /:/, $ENV{PATH};
	my $dat = "$outdir/.cold-listing.dat";
	open my $df, '>', $dat or die "report.pl: $dat: $!\n";
	my @series = ('lower bound', @$names);
	for my $i (0 .. $#series) {
		my $name = $series[$i];
		print $df "# $name\n";
		for my $n (@$sizes) {
			my $t = $name eq 'lower bound' ? bound("W1:$n") : undef;
			if ($name ne 'lower bound') {
				my $s = cell("W1:$n", $name);
				$t = $s->{t} if $s && $s->{st} eq 'ok';
			}
			print $df "$n $t\n" if defined $t;
		}
		print $df "\n\n";
	}
	close $df;
	my @plots = map {
		sprintf('"%s" index %d using 1:2 with linespoints %s title "%s"', $dat, $_,
			$_ == 0 ? 'dashtype 2 pointtype 0 linecolor rgb "gray40"' : "linewidth 2 pointtype " . (4 + $_),
			$series[$_])
	} 0 .. $#series;
	my $title = sprintf('Cold ls -l of one image: latency %s ms, page cap %s, max_requests %s (%s CPUs, %s)',
			    $P{latency_ms}, $P{cap} || 'none', $P{max_requests}, $P{nproc}, substr($P{date}, 0, 10));
	my $gp = join "\n", 'set terminal pngcairo size 960,600 font ",10" noenhanced', "set output \"$png\"",
	    'set xtics (' . join(', ', @$sizes) . ')',
	    sprintf('set xrange [%g:%g]', $sizes->[0] * 0.8, $sizes->[-1] * 1.25),
	    "set title \"$title\"", 'set logscale xy', 'set xlabel "tags in the image"',
	    'set ylabel "seconds (log scale)"', 'set key top left', 'set grid',
	    'set format y "%g"', 'plot ' . join(', ', @plots), '';
	open my $gf, '|-', 'gnuplot' or return 0;
	print $gf $gp;
	close $gf or warn "report.pl: gnuplot failed\n";
	unlink $dat;
	return -s $png ? 1 : 0;
}
