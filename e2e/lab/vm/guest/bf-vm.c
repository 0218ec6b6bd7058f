// The lab's test VM: a bare-metal multiboot guest (no Linux: nested TCG boots Linux in tens of minutes).
//
// Every tick it writes record SEQ to every disk in turn (IDE bus-master DMA), each followed by FLUSH CACHE, so a
// record that exists on one disk was flushed on all disks before it. Records live in a ring of 4 KiB slots from
// 1 MiB on; slot SEQ % SLOTS holds record SEQ:
//   "BFVMREC1" | id (16 bytes) | seq u64le | disk u32le | sum u32le | payload (4056 bytes: id, seq, disk repeated)
// sum is the 32-bit sum of the big-endian words of the record without the sum field.
// On "check\n" over COM2 it reads every ring back from its disk and answers one JSON line; on the ACPI power
// button (PIIX4 PM1 status) it stops writing and powers off (S5). COM1 is its console.
// Command line (multiboot): bf.id=HEX16 bf.disks=N [bf.rate=RECORDS_PER_S] [bf.slots=N]
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef int32_t i32;

enum {
  RECORD = 4096,
  RING_START_SECTOR = 1024 * 1024 / 512,
  SECTORS_PER_RECORD = RECORD / 512,
  MAX_DISKS = 4,
  MAX_SLOTS = 4096,
  // Reads this many slots (64 KiB: one DMA region) per ATA command when checking a ring.
  CHUNK_SLOTS = 16,
  // Checks read and sum every slot: a ring this size keeps a nested check short (bf.slots overrides).
  DEFAULT_SLOTS = 256,
};

static inline void outb(u16 port, u8 value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline void outw(u16 port, u16 value) { __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port)); }
static inline void outl(u16 port, u32 value) { __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port)); }
static inline u8 inb(u16 port) {
  u8 value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
static inline u16 inw(u16 port) {
  u16 value;
  __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
static inline u32 inl(u16 port) {
  u32 value;
  __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
static inline void insl(u16 port, void *buffer, u32 count) {
  __asm__ volatile("cld; rep insl" : "+D"(buffer), "+c"(count) : "d"(port) : "memory");
}

// gcc may call these for struct copies and loops even when freestanding.
void *memcpy(void *to, const void *from, u32 n) {
  u8 *t = to;
  const u8 *f = from;
  while (n--) *t++ = *f++;
  return to;
}
void *memset(void *to, int value, u32 n) {
  u8 *t = to;
  while (n--) *t++ = (u8)value;
  return to;
}

// ---- serial ports: COM1 the console (a file on the host), COM2 the check channel (a unix socket) ----

enum { COM1 = 0x3f8, COM2 = 0x2f8 };

static void uart_init(u16 base) {
  outb(base + 1, 0x00); // no interrupts: polled
  outb(base + 3, 0x80);
  outb(base + 0, 0x01); // 115200 baud (qemu ignores it)
  outb(base + 1, 0x00);
  outb(base + 3, 0x03); // 8N1
  outb(base + 2, 0xc7); // FIFOs on and cleared
  outb(base + 4, 0x03); // DTR, RTS
}

static void uart_put(u16 base, char c) {
  while (!(inb(base + 5) & 0x20)) {
  }
  outb(base, (u8)c);
}

static int uart_get(u16 base) { return inb(base + 5) & 0x01 ? inb(base) : -1; }

// Text goes into a line buffer, then out to one port.
static char line[1024];
static u32 line_len;

static void put_str(const char *s) {
  while (*s && line_len < sizeof line - 1) line[line_len++] = *s++;
}

static void put_u32(u32 value) {
  char digits[10];
  int n = 0;
  do digits[n++] = (char)('0' + value % 10);
  while ((value /= 10) != 0);
  while (n) put_str((char[]){digits[--n], 0});
}

static void send_line(u16 port) {
  line[line_len++] = '\n';
  for (u32 i = 0; i < line_len; i++) uart_put(port, line[i]);
  line_len = 0;
}

// ---- PCI configuration space and the PIIX4 power management function: timer, power button, S5 ----

static u32 pci_read(u32 bus, u32 dev, u32 fn, u32 reg) {
  outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc));
  return inl(0xcfc);
}

static void pci_write(u32 bus, u32 dev, u32 fn, u32 reg, u32 value) {
  outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc));
  outl(0xcfc, value);
}

enum { PM1_STS = 0, PM1_EN = 2, PM1_CNT = 4, PM_TMR = 8, PWRBTN = 1 << 8, SLP_EN = 1 << 13 };
static u16 pm_base = 0x600; // SeaBIOS's choice; used only when no PIIX4 PM function is found

// PIIX4 PM is 00:01.3 on qemu's i440fx. Firmware that did not set its I/O base (qboot) gets SeaBIOS's.
static void pm_init(void) {
  if (pci_read(0, 1, 3, 0x00) == 0x71138086) {
    u32 base = pci_read(0, 1, 3, 0x40) & 0xffc0;
    if (base == 0) {
      base = 0x600;
      pci_write(0, 1, 3, 0x40, base | 1);
    }
    pci_write(0, 1, 3, 0x80, pci_read(0, 1, 3, 0x80) | 1); // PMIOSE: the registers answer at base
    pm_base = (u16)base;
  }
  outw(pm_base + PM1_STS, PWRBTN); // write 1 to clear a press from before we ran
  outw(pm_base + PM1_EN, inw(pm_base + PM1_EN) | PWRBTN);
}

static int power_button_pressed(void) { return inw(pm_base + PM1_STS) & PWRBTN; }

// SLP_TYP 0 is S5 (soft off) on qemu's PIIX4.
static void power_off(void) { outw(pm_base + PM1_CNT, SLP_EN); }

// Uptime from the ACPI PM timer (3.579545 MHz, 24 bits: read it at least every 4.6 s, which the idle loop does).
enum { PM_HZ = 3579545 };
static u32 seconds, sub_ticks, last_tick;

static u32 uptime_ms(void) {
  u32 tick = inl(pm_base + PM_TMR) & 0xffffff;
  sub_ticks += (tick - last_tick) & 0xffffff;
  last_tick = tick;
  seconds += sub_ticks / PM_HZ;
  sub_ticks %= PM_HZ;
  return seconds * 1000 + sub_ticks * 1000 / PM_HZ; // sub_ticks < 2^22: no overflow
}

static void put_uptime(void) {
  u32 ms = uptime_ms();
  put_u32(ms / 1000);
  put_str(".");
  put_str(ms % 1000 < 100 ? (ms % 1000 < 10 ? "00" : "0") : "");
  put_u32(ms % 1000);
}

// ---- interrupts: only the PIT, 100 Hz, to wake the idle loop from hlt (a spinning vCPU would slow its host) ----

extern void timer_entry(void);
extern void ignore_entry(void);
static u32 idt[256 * 2];

static void interrupts_init(void) {
  for (u32 vector = 0; vector < 256; vector++) {
    u32 handler = (u32)(vector == 0x20 ? timer_entry : ignore_entry);
    idt[vector * 2] = 0x08u << 16 | (handler & 0xffff);
    idt[vector * 2 + 1] = (handler & 0xffff0000u) | 0x8e00; // present, ring 0, 32-bit interrupt gate
  }
  struct __attribute__((packed)) {
    u16 limit;
    u32 base;
  } idtr = {sizeof idt - 1, (u32)idt};
  __asm__ volatile("lidt %0" : : "m"(idtr));
  // PICs to vectors 0x20-0x2f (away from the CPU's exceptions), everything masked but IRQ 0.
  outb(0x20, 0x11);
  outb(0xa0, 0x11);
  outb(0x21, 0x20);
  outb(0xa1, 0x28);
  outb(0x21, 0x04);
  outb(0xa1, 0x02);
  outb(0x21, 0x01);
  outb(0xa1, 0x01);
  outb(0x21, 0xfe);
  outb(0xa1, 0xff);
  // The local APIC passes the PIC's interrupts on (virtual wire): SeaBIOS sets this up, qboot does not.
  volatile u32 *apic = (volatile u32 *)0xfee00000;
  apic[0xf0 / 4] = 0x1ff; // enabled, spurious vector 0xff
  apic[0x350 / 4] = 0x700; // LINT0: ExtINT
  apic[0x360 / 4] = 0x400; // LINT1: NMI
  outb(0x43, 0x34); // PIT channel 0, rate generator
  outb(0x40, 11932 & 0xff);
  outb(0x40, 11932 >> 8);
}

static void idle(void) { __asm__ volatile("sti; hlt; cli"); }

// ---- disks: legacy IDE on the i440fx's PIIX3, LBA28, bus-master DMA ----
// DMA, not PIO: under nested TCG every port access costs tens of microseconds, and PIO moves 4 bytes per access.

struct disk {
  u16 io;
  u8 slave;
  const char *name;
  u32 index;
  u32 slots;
};

static const struct disk positions[MAX_DISKS] = {
  {0x1f0, 0, "hda", 0, 0},
  {0x1f0, 1, "hdb", 0, 0},
  {0x170, 0, "hdc", 0, 0},
  {0x170, 1, "hdd", 0, 0},
};
static struct disk disks[MAX_DISKS];
static u32 disk_count;

enum { ST_ERR = 0x01, ST_DRQ = 0x08, ST_DF = 0x20, ST_BSY = 0x80 };

static int ata_wait(const struct disk *d, int want_data) {
  for (;;) {
    u8 status = inb(d->io + 7);
    if (status & ST_BSY) continue;
    if (status & (ST_ERR | ST_DF)) return -1;
    if (!want_data || status & ST_DRQ) return 0;
  }
}

static int ata_select(const struct disk *d, u32 lba) {
  outb(d->io + 6, (u8)(0xe0 | d->slave << 4 | (lba >> 24 & 0x0f)));
  return ata_wait(d, 0);
}

// The PIIX3 IDE function (00:01.1): its bus-master registers at BAR4, 8 per channel. Firmware that did not
// assign BAR4 (qboot) gets an address; I/O decoding and bus mastering are switched on either way.
static u16 bm_base;

static void bus_master_init(void) {
  if (pci_read(0, 1, 1, 0x00) != 0x70108086) return;
  if ((pci_read(0, 1, 1, 0x20) & 0xfffc) == 0) pci_write(0, 1, 1, 0x20, 0xc000);
  bm_base = (u16)(pci_read(0, 1, 1, 0x20) & 0xfffc);
  pci_write(0, 1, 1, 0x04, pci_read(0, 1, 1, 0x04) | 0x05);
}

// Physical region descriptors: address, byte count (0 = 64 KiB), end-of-table flag. No region may cross 64 KiB.
static u32 prd[2 * 8] __attribute__((aligned(16)));

enum { BM_START = 0x01, BM_TO_MEMORY = 0x08, BM_ACTIVE = 0x01, BM_ERROR = 0x02, BM_IRQ = 0x04 };

static int ata_io(const struct disk *d, u32 lba, u32 sectors, void *buffer, int write) {
  u16 bm = bm_base + (d->io == 0x1f0 ? 0 : 8);
  u32 address = (u32)buffer, left = sectors * 512, entries = 0;
  while (left) {
    u32 room = 0x10000 - (address & 0xffff);
    u32 size = left < room ? left : room;
    prd[entries * 2] = address;
    prd[entries * 2 + 1] = size & 0xffff;
    entries++;
    address += size;
    left -= size;
  }
  prd[entries * 2 - 1] |= 0x80000000u;
  if (ata_select(d, lba)) return -1;
  outb(bm, 0);
  outl(bm + 4, (u32)prd);
  outb(bm + 2, BM_ERROR | BM_IRQ); // write 1 to clear
  outb(bm, write ? 0 : BM_TO_MEMORY);
  outb(d->io + 2, (u8)sectors); // 0 means 256
  outb(d->io + 3, (u8)lba);
  outb(d->io + 4, (u8)(lba >> 8));
  outb(d->io + 5, (u8)(lba >> 16));
  outb(d->io + 7, write ? 0xca : 0xc8); // WRITE DMA, READ DMA
  outb(bm, (write ? 0 : BM_TO_MEMORY) | BM_START);
  while (inb(bm + 2) & BM_ACTIVE) {
  }
  int failed = inb(bm + 2) & BM_ERROR;
  outb(bm, 0);
  return ata_wait(d, 0) || failed ? -1 : 0;
}

static int ata_flush(const struct disk *d) {
  if (ata_select(d, 0)) return -1;
  outb(d->io + 7, 0xe7); // FLUSH CACHE: qemu flushes its host file (the LV)
  return ata_wait(d, 0);
}

// Sectors of an ATA disk at this position, or 0 when there is none (or it is a CD-ROM).
static u32 ata_identify(const struct disk *d) {
  static u16 identity[256];
  outb(d->io + 0x206, 0x02); // nIEN on the control port: we poll (and the PIC masks IRQ 14 and 15)
  outb(d->io + 6, (u8)(0xa0 | d->slave << 4));
  u8 status = inb(d->io + 7);
  if (status == 0 || status == 0xff) return 0;
  outb(d->io + 7, 0xec); // IDENTIFY DEVICE
  if (inb(d->io + 7) == 0) return 0;
  if (ata_wait(d, 1)) return 0; // an ATAPI device aborts IDENTIFY DEVICE
  insl(d->io, identity, 128);
  return identity[60] | (u32)identity[61] << 16;
}

// ---- records ----

static char vm_id[16];
static u8 record[RECORD] __attribute__((aligned(RECORD)));
static u8 chunk[CHUNK_SLOTS * RECORD] __attribute__((aligned(0x10000)));

static void put_le(u8 *at, u32 value) {
  for (int i = 0; i < 4; i++) at[i] = (u8)(value >> 8 * i);
}
static u32 get_le(const u8 *at) { return at[0] | at[1] << 8 | at[2] << 16 | (u32)at[3] << 24; }

// The 32-bit sum of big-endian words, skipping the sum field (word 9). Word-wise: nested TCG makes every
// instruction of the check count.
static u32 checksum(const u8 *r) {
  const u32 *words = (const u32 *)r;
  u32 sum = 0;
  for (u32 k = 0; k < RECORD / 4; k++) sum += k == 9 ? 0 : __builtin_bswap32(words[k]);
  return sum;
}

// Header bytes 8..35 (id, seq, disk) are the 28-byte pattern the payload repeats.
static void make_record(u8 *r, u32 seq, u32 disk) {
  memcpy(r, "BFVMREC1", 8);
  memcpy(r + 8, vm_id, 16);
  put_le(r + 24, seq);
  put_le(r + 28, 0);
  put_le(r + 32, disk);
  for (u32 i = 0; i < RECORD - 40; i++) r[40 + i] = r[8 + i % 28];
  put_le(r + 36, checksum(r));
}

// What a slot holds: 0 nothing of this VM, -1 a damaged record, else the seq of the intact record.
static i32 judge_slot(const u8 *r, const struct disk *d, u32 slot) {
  for (int i = 0; i < 8; i++)
    if (r[i] != "BFVMREC1"[i]) return 0;
  for (int i = 0; i < 16; i++)
    if (r[8 + i] != (u8)vm_id[i]) return 0;
  u32 seq = get_le(r + 24);
  if (get_le(r + 28) != 0 || seq > 0x7fffffff || get_le(r + 32) != d->index || seq % d->slots != slot) return -1;
  // The payload (words 10...) repeats header words 2..8.
  const u32 *words = (const u32 *)r;
  for (u32 k = 10, j = 2; k < RECORD / 4; k++, j = j == 8 ? 2 : j + 1)
    if (words[k] != words[j]) return -1;
  return checksum(r) == get_le(r + 36) ? (i32)seq : -1;
}

static int write_record(const struct disk *d, u32 seq) {
  make_record(record, seq, d->index);
  if (ata_io(d, RING_START_SECTOR + seq % d->slots * SECTORS_PER_RECORD, SECTORS_PER_RECORD, record, 1)) return -1;
  return ata_flush(d);
}

struct disk_check {
  u32 records, last_seq, torn, unflushed;
  int failed;
};

// Reads the ring from the disk and judges it: every record from the oldest the ring can still hold to the newest
// intact one must be intact. The slot after the newest may hold anything: a write in flight when the VM was cut off.
static struct disk_check check_disk(const struct disk *d) {
  static i32 seen[MAX_SLOTS];
  struct disk_check result = {0, 0, 0, 0, 0};
  for (u32 slot = 0; slot < d->slots; slot += CHUNK_SLOTS) {
    u32 count = d->slots - slot < CHUNK_SLOTS ? d->slots - slot : CHUNK_SLOTS;
    if (ata_io(d, RING_START_SECTOR + slot * SECTORS_PER_RECORD, count * SECTORS_PER_RECORD, chunk, 0)) {
      result.failed = 1;
      return result;
    }
    for (u32 i = 0; i < count; i++) seen[slot + i] = judge_slot(chunk + i * RECORD, d, slot + i);
    uptime_ms(); // the PM timer wraps every 4.7 s: read it between chunks
  }
  for (u32 slot = 0; slot < d->slots; slot++)
    if (seen[slot] > (i32)result.last_seq) result.last_seq = (u32)seen[slot];
  u32 first = result.last_seq + 2 > d->slots ? result.last_seq + 2 - d->slots : 1;
  for (u32 seq = first; seq <= result.last_seq; seq++) {
    if (seen[seq % d->slots] == (i32)seq) result.records++;
    else result.torn++;
  }
  result.unflushed = seen[(result.last_seq + 1) % d->slots] == -1;
  return result;
}

// Not ok: a damaged or missing record, an empty disk, disks more than the one record in flight apart, a read
// error, or a boot check that was not ok. The JSON goes to the line buffer.
static int boot_ok = 1;
static int check_all(struct disk_check *results) {
  int ok = boot_ok;
  u32 low = 0xffffffff, high = 0;
  for (u32 i = 0; i < disk_count; i++) {
    results[i] = check_disk(&disks[i]);
    if (results[i].torn || !results[i].records || results[i].failed) ok = 0;
    if (results[i].last_seq < low) low = results[i].last_seq;
    if (results[i].last_seq > high) high = results[i].last_seq;
  }
  if (high - low > 1) ok = 0;
  put_str(ok ? "{\"ok\":true,\"disks\":[" : "{\"ok\":false,\"disks\":[");
  for (u32 i = 0; i < disk_count; i++) {
    put_str(i ? ",{\"device\":\"/dev/" : "{\"device\":\"/dev/");
    put_str(disks[i].name);
    put_str("\",\"records\":");
    put_u32(results[i].records);
    put_str(",\"lastSeq\":");
    put_u32(results[i].last_seq);
    put_str(",\"torn\":");
    put_u32(results[i].torn);
    put_str(",\"unflushed\":");
    put_u32(results[i].unflushed);
    if (results[i].failed) put_str(",\"error\":\"read failed\"");
    put_str("}");
  }
  put_str("]}");
  return ok;
}

// ---- the command line and the main loop ----

struct args {
  u32 disks, rate, slots;
  int has_id;
};

static u32 parse_u32(const char *s) {
  u32 value = 0;
  while (*s >= '0' && *s <= '9') value = value * 10 + (u32)(*s++ - '0');
  return value;
}

static int starts_with(const char *s, const char *prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return 0;
  return 1;
}

static int is_hex16(const char *s) {
  for (int i = 0; i < 16; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return s[16] == 0 || s[16] == ' ';
}

static struct args parse_cmdline(const char *s) {
  struct args args = {1, 4, 0, 0};
  for (const char *start = s; s && *s; s++) {
    if ((s != start && s[-1] != ' ') || !starts_with(s, "bf.")) continue;
    if (starts_with(s, "bf.id=") && is_hex16(s + 6)) {
      memcpy(vm_id, s + 6, 16);
      args.has_id = 1;
    } else if (starts_with(s, "bf.disks=")) args.disks = parse_u32(s + 9);
    else if (starts_with(s, "bf.rate=")) args.rate = parse_u32(s + 8);
    else if (starts_with(s, "bf.slots=")) args.slots = parse_u32(s + 9);
  }
  return args;
}

// Says why on the console and writes nothing more; still powers off on the button, so virsh shutdown works.
static void fail(const char *why) {
  put_str("bf-vm: ");
  put_str(why);
  send_line(COM1);
  for (;;) {
    if (power_button_pressed()) power_off();
    idle();
  }
}

static void say_uptime(const char *what) {
  put_str("bf-vm: ");
  put_str(what);
  put_str(" at uptime ");
  put_uptime();
  send_line(COM1);
}

struct multiboot_info {
  u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};

void bf_main(const struct multiboot_info *info) {
  uart_init(COM1);
  uart_init(COM2);
  pm_init();
  bus_master_init();
  uptime_ms();
  seconds = sub_ticks = 0;
  interrupts_init();
  say_uptime("bare-metal guest started");
  struct args args = parse_cmdline(info->flags & 4 ? (const char *)info->cmdline : 0);
  if (!args.has_id) fail("bf.id=HEX16 missing from the command line");
  if (args.disks < 1 || args.disks > MAX_DISKS) fail("bf.disks must be 1..4");
  if (args.rate < 1 || args.rate > 1000) fail("bf.rate must be 1..1000");

  for (u32 p = 0; p < MAX_DISKS && disk_count < args.disks; p++) {
    u32 sectors = ata_identify(&positions[p]);
    if (!sectors) continue;
    struct disk *d = &disks[disk_count];
    *d = positions[p];
    d->index = disk_count++;
    u32 fit = (sectors - RING_START_SECTOR) / SECTORS_PER_RECORD;
    d->slots = args.slots ? args.slots : DEFAULT_SLOTS;
    if (d->slots > MAX_SLOTS) d->slots = MAX_SLOTS;
    if (sectors <= RING_START_SECTOR || d->slots > fit) d->slots = sectors > RING_START_SECTOR ? fit : 0;
    if (d->slots < 2) fail("a disk is too small for a ring");
  }
  if (disk_count < args.disks) fail("fewer IDE disks than bf.disks");
  if (!bm_base) fail("no PIIX3 IDE function for DMA");

  // A fresh VM has no records yet: its boot check counts only damage, not emptiness.
  struct disk_check boot[MAX_DISKS];
  put_str("bf-vm: boot check ");
  check_all(boot);
  send_line(COM1);
  u32 seq = 1;
  for (u32 i = 0; i < disk_count; i++) {
    if (boot[i].torn || boot[i].failed) boot_ok = 0;
    if (boot[i].last_seq + 1 > seq) seq = boot[i].last_seq + 1;
  }
  // A disk one record behind (cut off between two disks' writes) gets that record now, so all disks continue alike.
  for (u32 i = 0; i < disk_count; i++)
    for (u32 s = boot[i].last_seq + 1; s < seq; s++)
      if (write_record(&disks[i], s)) fail("write failed");
  put_str("bf-vm: writing from seq ");
  put_u32(seq);
  put_str(" at ");
  put_u32(args.rate);
  put_str("/s to");
  for (u32 i = 0; i < disk_count; i++) {
    put_str(" /dev/");
    put_str(disks[i].name);
  }
  put_str(" (");
  put_u32(disks[0].slots);
  put_str(" slots) at uptime ");
  put_uptime();
  send_line(COM1);

  u32 interval = 1000 / args.rate, next = uptime_ms();
  int first_written = 0;
  static char command[64];
  u32 command_len = 0;
  for (;;) {
    u32 now = uptime_ms();
    if ((i32)(now - next) >= 0) {
      for (u32 i = 0; i < disk_count; i++)
        if (write_record(&disks[i], seq)) fail("write failed");
      if (!first_written++) say_uptime("first record written");
      seq++;
      next += interval;
      if ((i32)(now - next) > 0) next = now + interval; // slower than asked: go on without a burst
    }
    if (power_button_pressed()) {
      outw(pm_base + PM1_STS, PWRBTN);
      say_uptime("power button: stopping");
      put_str("bf-vm: powering off");
      send_line(COM1);
      power_off();
      fail("power off failed");
    }
    for (int c; (c = uart_get(COM2)) >= 0;) {
      if (c != '\n') {
        if (command_len < sizeof command) command[command_len++] = (char)c;
        continue;
      }
      struct disk_check results[MAX_DISKS];
      if (command_len == 5 && starts_with(command, "check")) check_all(results);
      else put_str("{\"error\":\"unknown command\"}");
      send_line(COM2);
      command_len = 0;
    }
    idle();
  }
}
