#!/usr/bin/perl
# mktree.pl ROOT < DUMP — builds the registry as plain files under ROOT
# (the benchmark's tmpfs contender) from uhub-sim's /tree/?dump lines
# (REPO TAB IMAGE TAB TAG TAB UNIXTIME TAB DIGEST TAB UPDATED): ROOT/REPO/IMAGE/TAG
# holding exactly what imgtagfs shows ("digest: D\nupdated: T\n", no digest
# line without a digest), mtime the tag's time, 0444 files and 0555
# directories as imgtagfs has them. Prints the number of files written.
use strict;
use warnings;

die "usage: mktree.pl ROOT < DUMP\n" unless @ARGV == 1;
my $root = $ARGV[0];
my (%made, %dirtime, $n);

sub mkdirs {
	my ($dir) = @_;
	return if $made{$dir};
	my $parent = $dir =~ s{/[^/]+$}{}r;
	mkdirs($parent) if $parent ne $dir && $parent ne $root;
	mkdir $dir or $!{EEXIST} or die "mktree.pl: mkdir $dir: $!\n";
	$made{$dir} = 1;
}

while (my $line = <STDIN>) {
	chomp $line;
	my ($repo, $image, $tag, $time, $digest, $updated) = split /\t/, $line, -1;
	die "mktree.pl: bad dump line: $line\n" unless defined $updated;
	my $dir = "$root/$repo/$image";
	mkdirs($dir);
	my $file = "$dir/$tag";
	open my $fh, '>', $file or die "mktree.pl: $file: $!\n";
	print $fh ($digest ne '' ? "digest: $digest\n" : '') . "updated: $updated\n";
	close $fh or die "mktree.pl: $file: $!\n";
	chmod 0444, $file;
	utime $time, $time, $file;
	for (my $d = $dir; $d ne $root; $d =~ s{/[^/]+$}{}) {
		$dirtime{$d} = $time if !defined $dirtime{$d} || $time > $dirtime{$d};
	}
	$n++;
}
# Directories last: writing a file changes its directory's mtime.
for my $d (sort { length($b) <=> length($a) } keys %dirtime) {
	utime $dirtime{$d}, $dirtime{$d}, $d;
	chmod 0555, $d;
}
print(($n // 0) . "\n");
