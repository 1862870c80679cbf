#!/usr/bin/perl
# probe.pl FILE EVERY STOPFILE: the client of the rows that count refused
# connections across a restart (backlog, segv, watchdog, the upgrades). Every
# EVERY seconds until STOPFILE exists it opens a new connection to
# 127.0.0.1:7234 and sends GET /readyz, each in a child of its own, with 30 s
# for the connect and 30 s for the status line. Each child appends one line
# to FILE (times are /proc/uptime seconds):
#   R                     the connect was refused
#   X                     the connect was reset: the handshake was done, but
#                         the listener closed with the connection still in
#                         its queue, before connect() returned
#   A START END           an HTTP status line came back
#   F START END HOW       no answer; HOW: connect:<errno> or connect:timeout,
#                         write, reset (reset before the status line: a
#                         listener that closed with the connection still in
#                         its queue after connect() returned, or a server
#                         that closed it unread), eof (closed before the
#                         status line), timeout, line
# It then waits for every child and prints how many it started.
#
# Perl, not bash: bash subshells that started hundreds of /dev/tcp probes
# hung for good on Debian 11 and lost probes to SIGPIPE. perl-base (in every
# Debian) has what this needs; Time::HiRes is not in it, so the clock is
# /proc/uptime and the naps are select().
use strict;
use warnings;
use Socket qw(PF_INET SOCK_STREAM inet_aton pack_sockaddr_in);
use Errno qw(ECONNREFUSED ECONNRESET);
use IO::Select;
use POSIX ();

my ($file, $every, $stop) = @ARGV;
die "usage: probe.pl FILE EVERY STOPFILE\n" unless defined $stop && $every > 0;
$SIG{PIPE} = 'IGNORE';

sub uptime {
	open my $u, '<', '/proc/uptime' or die "/proc/uptime: $!\n";
	my ($t) = split ' ', scalar <$u>;
	return $t;
}

sub record {
	my ($line) = @_;
	open my $f, '>>', $file or die "$file: $!\n";
	syswrite $f, "$line\n";    # one write: lines of concurrent children do not mix
	close $f;
}

# status_line reads until the first newline, EOF or the deadline.
sub status_line {
	my ($s, $deadline) = @_;
	my ($buf, $sel) = ('', IO::Select->new($s));
	while ($buf !~ /\n/) {
		my $left = $deadline - uptime();
		return (undef, 'timeout') if $left <= 0 || !$sel->can_read($left);
		my $n = sysread $s, $buf, 512, length $buf;
		return (undef, 'reset') if !defined $n && $! == ECONNRESET;
		return (undef, 'eof') if !$n;
	}
	return ($buf, '');
}

# connect_30s: a blocking connect to the API under a 30 s alarm; returns
# the socket, or undef and the errno ("timeout" for the alarm). Not
# IO::Socket::INET's Timeout: a connect of its that failed after 0.19 s
# reported errno 25 (ENOTTY), which no connect returns, and the real error
# was lost.
sub connect_30s {
	socket(my $s, PF_INET, SOCK_STREAM, 0) or return (undef, $! + 0);
	my $errno = 0;
	my $ok = eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm 30;
		my $r = connect($s, pack_sockaddr_in(7234, inet_aton('127.0.0.1')));
		$errno = $! + 0;
		alarm 0;
		$r;
	};
	return (undef, 'timeout') if !defined $ok && $@ eq "timeout\n";
	return $ok ? ($s, 0) : (undef, $errno);
}

sub probe {
	my $t0 = uptime();
	my ($s, $err) = connect_30s();
	if (!$s) {
		return record('R') if $err eq ECONNREFUSED;
		return record('X') if $err eq ECONNRESET;
		return record(sprintf 'F %s %s connect:%s', $t0, uptime(), $err);
	}
	if (!defined syswrite $s, "GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n") {
		return record(sprintf 'F %s %s write', $t0, uptime());
	}
	my ($line, $how) = status_line($s, $t0 + 30);
	$how = 'line' if !$how && $line !~ /^HTTP\//;
	record($how ? "F $t0 " . uptime() . " $how" : "A $t0 " . uptime());
}

my $n = 0;
until (-e $stop) {
	my $pid = fork // die "fork: $!\n";
	if ($pid == 0) {
		probe();
		POSIX::_exit(0);
	}
	$n++;
	select undef, undef, undef, $every;
	1 while waitpid(-1, POSIX::WNOHANG()) > 0;
}
1 while waitpid(-1, 0) > 0;
print "$n\n";
