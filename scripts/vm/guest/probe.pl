#!/usr/bin/perl
# probe.pl FILE EVERY STOPFILE [PORT]: the client of the rows that count
# refused connections across a restart (backlog, segv, watchdog, the
# upgrades). Every EVERY seconds until STOPFILE exists it opens a new
# connection to 127.0.0.1:PORT (the API's 7234) and sends GET /readyz;
# each probe has 30 s from its start for the connect and the status line
# together. Each probe appends one line to FILE (times are /proc/uptime
# seconds):
#   R                     the connect was refused
#   X                     the connect was reset: the handshake was done, but
#                         the listener closed with the connection still in
#                         its queue, before the connect completed
#   A START END           an HTTP status line came back
#   F START END HOW       no answer; HOW: connect:<errno> or connect:timeout,
#                         write, reset (reset before the status line: a
#                         listener that closed with the connection still in
#                         its queue after the connect completed, or a server
#                         that closed it unread), eof (closed before the
#                         status line), timeout, line
# Once STOPFILE exists it waits for every probe and prints how many it
# started.
#
# One process with non-blocking sockets, not a child per probe: under
# emulation, on a guest short of CPU, forking a child 20 times a second took
# the CPU the restarting server needed, so the server measured was slowed by
# its own client (a restart ready twice as late, probes timing out behind
# it). Perl, not bash: bash subshells that started hundreds of
# /dev/tcp probes hung for good on Debian 11. perl-base (in every Debian)
# has what this needs; Time::HiRes is not in it, so the clock is
# /proc/uptime (10 ms steps) and the naps are select().
use strict;
use warnings;
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_ERROR inet_aton pack_sockaddr_in);
use Errno qw(EINPROGRESS ECONNREFUSED ECONNRESET EAGAIN);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);

my ($file, $every, $stop, $port) = @ARGV;
die "usage: probe.pl FILE EVERY STOPFILE [PORT]\n" unless defined $stop && $every > 0;
$SIG{PIPE} = 'IGNORE';
use constant LIMIT   => 30;
use constant REQUEST => "GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
my $api = pack_sockaddr_in($port // 7234, inet_aton('127.0.0.1'));

open my $up, '<', '/proc/uptime' or die "/proc/uptime: $!\n";
sub uptime {
	sysseek $up, 0, 0;
	sysread $up, my $buf, 64;
	return (split ' ', $buf)[0];
}

# O_APPEND and one write a line: the shell's own lines (T) do not mix in.
open my $out, '>>', $file or die "$file: $!\n";
sub record { syswrite $out, "$_[0]\n" }

# The probes under way, by file descriptor: socket, start, and whether the
# request went out (reading the status line) or not (connecting). @order
# holds the same probes in the order they started, which is the order of
# their deadlines. $want_write and $want_read are select()'s bit vectors.
my (%probe, @order);
my ($want_write, $want_read) = ('', '');

sub finish {
	my ($fd, $line) = @_;
	vec($want_write, $fd, 1) = 0;
	vec($want_read,  $fd, 1) = 0;
	close $probe{$fd}{sock};
	$probe{$fd}{done} = 1;
	delete $probe{$fd};
	record($line);
}

sub fail { my ($fd, $how) = @_; finish($fd, sprintf 'F %s %s %s', $probe{$fd}{t0}, uptime(), $how) }

sub start {
	my $t0 = uptime();
	socket(my $s, PF_INET, SOCK_STREAM, 0) or return record(sprintf 'F %s %s connect:%d', $t0, uptime(), $! + 0);
	fcntl($s, F_SETFL, fcntl($s, F_GETFL, 0) | O_NONBLOCK) or die "fcntl: $!\n";
	my $fd = fileno $s;
	$probe{$fd} = {sock => $s, fd => $fd, t0 => $t0, sent => 0, buf => ''};
	push @order, $probe{$fd};
	if (connect $s, $api) {
		send_request($fd);
	} elsif ($! == EINPROGRESS) {
		vec($want_write, $fd, 1) = 1;
	} else {
		connected($fd, $! + 0);
	}
}

# connected: the connect ended with ERRNO (0: done).
sub connected {
	my ($fd, $errno) = @_;
	vec($want_write, $fd, 1) = 0;
	return send_request($fd) if $errno == 0;
	return finish($fd, 'R') if $errno == ECONNREFUSED;
	return finish($fd, 'X') if $errno == ECONNRESET;
	fail($fd, "connect:$errno");
}

sub send_request {
	my ($fd) = @_;
	my $n = syswrite $probe{$fd}{sock}, REQUEST;
	return fail($fd, 'write') unless defined $n && $n == length REQUEST;
	$probe{$fd}{sent} = 1;
	vec($want_read, $fd, 1) = 1;
}

# readable: read what came; the status line ends the probe.
sub readable {
	my ($fd) = @_;
	my $p = $probe{$fd};
	my $n = sysread $p->{sock}, $p->{buf}, 512, length $p->{buf};
	if (!defined $n) {
		return if $! == EAGAIN;
		return fail($fd, $! == ECONNRESET ? 'reset' : 'eof');
	}
	return fail($fd, 'eof') if $n == 0;
	return unless $p->{buf} =~ /\n/;
	return fail($fd, 'line') unless $p->{buf} =~ /^HTTP\//;
	finish($fd, "A $p->{t0} " . uptime());
}

# expire ends the probes past their 30 s, and drops the ended ones from
# the front of @order, whose first is then the nearest deadline.
sub expire {
	my ($now) = @_;
	while (@order) {
		my $p = $order[0];
		if (!$p->{done}) {
			last if $now - $p->{t0} < LIMIT;
			fail($p->{fd}, $p->{sent} ? 'timeout' : 'connect:timeout');
		}
		shift @order;
	}
}

# set_bits: the descriptors whose bit is set in a select() result.
sub set_bits {
	my $bits = unpack 'b*', $_[0] // '';
	my @fds;
	push @fds, pos($bits) - 1 while $bits =~ /1/g;
	return @fds;
}

my ($n, $next, $stopping) = (0, uptime(), 0);
while (!$stopping || %probe) {
	my $now = uptime();
	if (!$stopping && $now >= $next) {
		$stopping = -e $stop;
		if (!$stopping) {
			start();
			$n++;
			$next += $every;
			$next = $now + $every if $next < $now;    # a late loop does not burst
		}
	}
	expire($now);
	last if $stopping && !%probe;
	my $wait = $stopping ? LIMIT : $next - $now;
	$wait = $order[0]{t0} + LIMIT - $now if @order && $order[0]{t0} + LIMIT - $now < $wait;
	$wait = 0.01 if $wait < 0.01;
	my ($r, $w) = ($want_read, $want_write);
	my $ready = select($r, $w, undef, $wait);
	die "select: $!\n" if $ready < 0 && !$!{EINTR};
	next if $ready <= 0;
	connected($_, unpack 'i', getsockopt($probe{$_}{sock}, SOL_SOCKET, SO_ERROR)) for grep { $probe{$_} } set_bits($w);
	readable($_) for grep { $probe{$_} } set_bits($r);
}
print "$n\n";
