# PID 1 of the lab's test VM. Plain perl without modules: the VM's initrd holds only perl, busybox and libc.
#
# Every tick it writes record SEQ to every disk (vda, vdb, ...) and fsyncs each, so a record that exists on one
# disk was flushed on all disks before it. Records live in a ring of SLOTS 4 KiB slots from 1 MiB on; slot
# SEQ % SLOTS holds record SEQ:
#   "BFVMREC1" | id (16 bytes) | seq u64le | disk u32le | sum u32le | payload (4056 bytes, from id, seq, disk)
# sum is the 32-bit sum of the big-endian words of the record with the sum field zeroed.
# On "check\n" over the virtio-serial port "bf.check" it answers one JSON line; on the ACPI power button it
# stops writing, syncs and powers off. Kernel arguments: bf.id=HEX16 bf.disks=N [bf.rate=RECORDS_PER_S] [bf.slots=N]
# (Not even strict.pm or File::Glob: their files are not there. `perl -Mstrict -Mwarnings -c` checks it.)

my $RECORD = 4096;
my $RING_START = 1024 * 1024;
my ($SYS_FSYNC, $SYS_SYNC, $SYS_REBOOT) = (74, 162, 169);
my $BLKFLSBUF = 0x1261;
my ($O_RDWR, $O_NONBLOCK) = (2, 0x800);

$| = 1;
sub say_console { print "bf-vm: @_\n" }
sub uptime { open(my $fh, '<', '/proc/uptime') or return 0; my ($u) = split ' ', scalar <$fh>; return $u }

my %arg = map { /^bf\.(\w+)=(\S+)$/ ? ($1 => $2) : () } split ' ', do { local (@ARGV, $/) = '/proc/cmdline'; <> };
my $id = $arg{id} // '';
die "bf-vm: bf.id must be 16 hex digits\n" unless $id =~ /^[0-9a-f]{16}$/;
my $want_disks = $arg{disks} // 1;
my $rate = $arg{rate} // 4;
my $interval = 1 / $rate;

sub wait_for {
  my ($what, $test) = @_;
  for (1 .. 600) { my $r = $test->(); return $r if $r; select(undef, undef, undef, 0.1) }
  die "bf-vm: no $what; virtio devices: " . join(' ', map { slurp("/sys/bus/virtio/devices/$_/device") // '?' } entries('/sys/bus/virtio/devices', qr/^virtio/)) . '; ports: ' . join(' ', entries('/sys/class/virtio-ports', qr/./)) . "\n";
}
sub entries { my ($dir, $pattern) = @_; opendir(my $dh, $dir) or return (); my @names = sort(grep { /$pattern/ } readdir($dh)); closedir $dh; @names }
sub slurp { my ($path) = @_; open(my $fh, "<", $path) or return undef; local $/; my $s = <$fh>; $s =~ s/\n\z// if defined $s; $s }

# Disks probe asynchronously: wait for all of them, in name order (vda, vdb, ...).
my @names = @{ wait_for("$want_disks disks", sub { my @d = entries('/sys/block', qr/^vd[a-z]+$/); @d >= $want_disks ? [@d[0 .. $want_disks - 1]] : undef }) };
my @disks;
for my $name (@names) {
  open(my $fh, '+<', "/dev/$name") or die "bf-vm: open /dev/$name: $!\n";
  binmode $fh;
  my $bytes = slurp("/sys/block/$name/size") * 512;
  my $slots = int(($bytes - $RING_START) / $RECORD);
  $slots = $arg{slots} if $arg{slots} && $arg{slots} < $slots;
  $slots = 4096 if !$arg{slots} && $slots > 4096;
  die "bf-vm: /dev/$name is too small\n" if $slots < 2;
  push @disks, { name => $name, fh => $fh, slots => $slots, index => scalar @disks };
}

sub payload { my ($seq, $disk) = @_; substr(pack('a16 Q< V', $id, $seq, $disk) x 254, 0, $RECORD - 40) }
sub checksum { my ($head, $payload) = @_; unpack('%32N*', $head . $payload) }
sub record {
  my ($seq, $disk) = @_;
  my $head = pack('a8 a16 Q< V', 'BFVMREC1', $id, $seq, $disk);
  my $payload = payload($seq, $disk);
  return $head . pack('V', checksum($head, $payload)) . $payload;
}

sub fsync_fh { syscall($SYS_FSYNC, fileno($_[0])) == 0 or die "bf-vm: fsync: $!\n" }

sub write_record {
  my ($d, $seq) = @_;
  my $data = record($seq, $d->{index});
  sysseek($d->{fh}, $RING_START + ($seq % $d->{slots}) * $RECORD, 0) or die "bf-vm: seek $d->{name}: $!\n";
  syswrite($d->{fh}, $data) == $RECORD or die "bf-vm: write $d->{name}: $!\n";
  fsync_fh($d->{fh});
}

# Reads the ring from the disk itself (BLKFLSBUF drops the page cache) and judges it. A record is intact when its
# sum and payload match; every record from the oldest the ring can still hold to the newest intact one must be
# intact. The slot after the newest may hold anything: a write in flight when the VM was cut off.
sub check_disk {
  my ($d) = @_;
  fsync_fh($d->{fh});
  ioctl($d->{fh}, $BLKFLSBUF, 0) or die "bf-vm: BLKFLSBUF $d->{name}: $!\n";
  sysseek($d->{fh}, $RING_START, 0) or die "bf-vm: seek $d->{name}: $!\n";
  my ($slots, $torn, @seen) = ($d->{slots}, 0);
  for my $slot (0 .. $slots - 1) {
    my $got = sysread($d->{fh}, my $data, $RECORD);
    die "bf-vm: read $d->{name}: $!\n" unless defined $got && $got == $RECORD;
    my ($magic, $rid, $seq, $disk, $sum) = unpack('a8 a16 Q< V V', $data);
    if ($magic ne 'BFVMREC1' || $rid ne $id) { $seen[$slot] = undef; next }
    my $payload = substr($data, 40);
    my $ok = $disk == $d->{index} && $seq % $slots == $slot && $payload eq payload($seq, $disk)
      && $sum == checksum(substr($data, 0, 36), $payload);
    $seen[$slot] = $ok ? $seq : -1;
  }
  my $last = 0;
  for (@seen) { $last = $_ if defined $_ && $_ > $last }
  my $first = $last - $slots + 2;
  $first = 1 if $first < 1;
  my $records = 0;
  for my $seq ($first .. $last) {
    my $s = $seen[$seq % $slots];
    if (defined $s && $s == $seq) { $records++ } else { $torn++ }
  }
  my $next = $seen[($last + 1) % $slots];
  my $unflushed = defined $next && $next == -1 ? 1 : 0;
  return { device => "/dev/$d->{name}", records => $records, lastSeq => $last, torn => $torn, unflushed => $unflushed };
}

# Not ok: a damaged or missing record, an empty disk, disks more than the one record in flight apart, or a boot
# check that was not ok (the catch-up below hides nothing: it only adds records above a disk's last one).
my $boot_ok = 1;
sub check_json {
  my @results = map { check_disk($_) } @disks;
  my @last = sort { $a <=> $b } map { $_->{lastSeq} } @results;
  my $ok = $boot_ok && !(grep { $_->{torn} > 0 || $_->{records} == 0 } @results) && $last[-1] - $last[0] <= 1;
  my @parts = map {
    my $r = $_;
    sprintf('{"device":"%s","records":%d,"lastSeq":%d,"torn":%d,"unflushed":%d}', @$r{qw(device records lastSeq torn unflushed)})
  } @results;
  return (sprintf('{"ok":%s,"disks":[%s]}', $ok ? 'true' : 'false', join(',', @parts)), \@results, $ok);
}

sub power_off {
  my ($why) = @_;
  say_console("$why: stopping at uptime ", uptime());
  fsync_fh($_->{fh}) for @disks;
  syscall($SYS_SYNC);
  say_console("powering off");
  syscall($SYS_REBOOT, 0xfee1dead, 672274793, 0x4321fedc);
  die "bf-vm: poweroff failed: $!\n";
}

# The check channel and the power button(s). No udev: find them by name in sysfs.
my $port_name = wait_for('virtio-serial port bf.check', sub {
  for (entries('/sys/class/virtio-ports', qr/^vport/)) { return $_ if (slurp("/sys/class/virtio-ports/$_/name") // '') eq 'bf.check' }
  undef;
});
sysopen(my $port, "/dev/$port_name", $O_RDWR) or die "bf-vm: open /dev/$port_name: $!\n";
my @buttons;
for my $event (entries('/sys/class/input', qr/^event\d+$/)) {
  next unless (slurp("/sys/class/input/$event/device/name") // '') =~ /Power Button/;
  sysopen(my $fh, "/dev/input/$event", $O_RDWR | $O_NONBLOCK) or die "bf-vm: open /dev/input/$event: $!\n";
  push @buttons, $fh;
}
say_console(scalar(@buttons) . " power button(s), check port /dev/$port_name");

# A fresh VM has no records yet: its boot check counts only damage, not emptiness.
my ($boot_json, $boot) = check_json();
say_console("boot check $boot_json");
$boot_ok = !(grep { $_->{torn} > 0 } @$boot);
my $seq = 1;
for (@$boot) { $seq = $_->{lastSeq} + 1 if $_->{lastSeq} + 1 > $seq }
# A disk one record behind (cut off between two disks' writes) gets that record now, so all disks continue alike.
for my $i (0 .. $#disks) { write_record($disks[$i], $_) for $boot->[$i]{lastSeq} + 1 .. $seq - 1 }
my $first_written = 0;
say_console("writing from seq $seq at ${rate}/s to " . join(' ', map { "/dev/$_->{name}" } @disks) . " at uptime " . uptime());

my ($port_input, $port_quiet_until, $next) = ('', 0, uptime());
for (;;) {
  my $now = uptime();
  if ($now >= $next) {
    write_record($_, $seq) for @disks;
    say_console("first record written at uptime $now") unless $first_written++;
    $seq++;
    $next += $interval;
    $next = $now + $interval if $next < $now; # slower than asked: go on without a burst
  }
  my $rin = '';
  vec($rin, fileno($_), 1) = 1 for @buttons;
  # A port with no host side connected reads as EOF at once: look at it again only after the next tick.
  vec($rin, fileno($port), 1) = 1 if $now >= $port_quiet_until;
  my $wait = $next - uptime();
  select(my $rout = $rin, undef, undef, $wait > 0 ? $wait : 0);
  for my $button (@buttons) {
    next unless vec($rout, fileno($button), 1);
    while (sysread($button, my $event, 24)) {
      my (undef, undef, $type, $code, $value) = unpack('q q S S l', $event);
      power_off('power button') if $type == 1 && $code == 116 && $value == 1; # EV_KEY, KEY_POWER, pressed
    }
  }
  next unless vec($rout, fileno($port), 1);
  my $got = sysread($port, my $data, 4096);
  if (!$got) { $port_quiet_until = $next; next }
  $port_input .= $data;
  while ($port_input =~ s/^([^\n]*)\n//) {
    my $command = $1;
    my ($json) = $command eq 'check' ? check_json() : ('{"error":"unknown command"}');
    syswrite($port, "$json\n");
  }
}
