// A libvirt domain's XML as `virsh dumpxml` prints it: read its disks and interfaces, and rewrite the ones that
// move. Plain string work on libvirt's own canonical output (one element per line, quoted attributes), not a general
// XML parser: only <disk> and <interface> elements and their <source> are read or touched, the rest is kept as is.

export interface DomainDisk {
  /** The guest's name of the disk (`vda`, `hdb`), for messages. */
  target: string;
  /** `block`, `file`, `network`, `volume`, ... */
  type: string;
  /** `disk`, `cdrom`, `floppy`, `lun`. */
  device: string;
  /** The device path of a block disk, the file of a file disk, the name of a network disk; null when empty. */
  source: string | null;
}

export interface DomainInterface {
  /** `network`, `bridge`, `direct`, `user`, ... */
  type: string;
  /** The libvirt network (type network) or host interface (bridge, direct) it attaches to; null for others. */
  source: string | null;
  mac: string | null;
}

export interface DomainDevices {
  name: string | null;
  uuid: string | null;
  disks: DomainDisk[];
  interfaces: DomainInterface[];
}

const decode = (s: string) =>
  s
    .replaceAll("&apos;", "'")
    .replaceAll("&quot;", '"')
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
const encode = (s: string) =>
  s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll("'", "&apos;")
    .replaceAll('"', "&quot;");

const ATTR = (name: string) => new RegExp(`\\s${name}=(["'])(.*?)\\1`, "s");
const attrOf = (tag: string, name: string) => {
  const m = ATTR(name).exec(tag);
  return m ? decode(m[2] ?? "") : null;
};
/** The first `<name .../>` or `<name ...>` opening tag in `body`. */
const tagIn = (body: string, name: string) => new RegExp(`<${name}\\b[^>]*>`).exec(body)?.[0] ?? null;
const textOf = (xml: string, name: string) => {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? decode((m[1] ?? "").trim()) : null;
};

/** Each `<el ...>...</el>` (or `<el .../>`) block with its opening tag. Disks and interfaces never nest themselves. */
const blocks = (xml: string, el: string) =>
  [...xml.matchAll(new RegExp(`<${el}\\b[^>]*?(?:/>|>[\\s\\S]*?</${el}>)`, "g"))].map((m) => ({
    text: m[0],
    index: m.index,
    open: tagIn(m[0], el) ?? "",
  }));

/**
 * The disk's own <source>: before any <backingStore>, whose nested sources are the image chain's (file disks only).
 */
const ownPart = (disk: string) => disk.split(/<backingStore\b/)[0] ?? disk;

const SOURCE_ATTRS: Record<string, string> = { block: "dev", file: "file", network: "name", volume: "volume" };
const IFACE_ATTRS: Record<string, string> = { network: "network", bridge: "bridge", direct: "dev" };

export function readDomain(xml: string): DomainDevices {
  const devices = /<devices>[\s\S]*<\/devices>/.exec(xml)?.[0] ?? "";
  const head = xml.slice(0, xml.indexOf("<devices>") === -1 ? xml.length : xml.indexOf("<devices>"));
  return {
    name: textOf(head, "name"),
    uuid: textOf(head, "uuid"),
    disks: blocks(devices, "disk").map(({ text, open }) => {
      const type = attrOf(open, "type") ?? "file";
      const source = tagIn(ownPart(text), "source");
      const attr = SOURCE_ATTRS[type];
      return {
        target: attrOf(tagIn(text, "target") ?? "", "dev") ?? "?",
        type,
        device: attrOf(open, "device") ?? "disk",
        source: source && attr ? attrOf(source, attr) : null,
      };
    }),
    interfaces: blocks(devices, "interface").map(({ text, open }) => {
      const type = attrOf(open, "type") ?? "?";
      const source = tagIn(text, "source");
      const attr = IFACE_ATTRS[type];
      return {
        type,
        source: source && attr ? attrOf(source, attr) : null,
        mac: attrOf(tagIn(text, "mac") ?? "", "address"),
      };
    }),
  };
}

/** Replaces the value of `attr` in the first `<source>` tag of `part` (the caller found it there). */
const setSourceAttr = (part: string, attr: string, value: string) =>
  part.replace(/<source\b[^>]*>/, (tag) =>
    tag.replace(ATTR(attr), (_m, q: string) => ` ${attr}=${q}${encode(value)}${q}`),
  );

/**
 * The domain for the target: each block disk whose device is a key of `disks` gets the mapped device, and each
 * interface whose network or bridge is a key of `networks` the mapped name. Throws when a device of `disks` is not
 * a disk of the domain: the XML would then not describe what was moved.
 */
export function rewriteDomain(
  xml: string,
  moves: { disks: ReadonlyMap<string, string>; networks?: Readonly<Record<string, string>> },
): string {
  const found = new Set<string>();
  let out = xml.replace(/<disk\b[^>]*?(?:\/>|>[\s\S]*?<\/disk>)/g, (disk) => {
    const open = tagIn(disk, "disk") ?? "";
    if ((attrOf(open, "type") ?? "file") !== "block") return disk;
    const own = ownPart(disk);
    const dev = attrOf(tagIn(own, "source") ?? "", "dev");
    const to = dev === null ? undefined : moves.disks.get(dev);
    if (dev === null || to === undefined) return disk;
    found.add(dev);
    return setSourceAttr(own, "dev", to) + disk.slice(own.length);
  });
  const missing = [...moves.disks.keys()].filter((dev) => !found.has(dev));
  if (missing.length) throw new Error(`the domain has no disk backed by ${missing.join(", ")}`);
  const networks = moves.networks ?? {};
  out = out.replace(/<interface\b[^>]*?(?:\/>|>[\s\S]*?<\/interface>)/g, (iface) => {
    const attr = IFACE_ATTRS[attrOf(tagIn(iface, "interface") ?? "", "type") ?? ""];
    const name = attr ? attrOf(tagIn(iface, "source") ?? "", attr) : null;
    const to = name === null ? undefined : networks[name];
    return attr && to !== undefined && Object.hasOwn(networks, name as string) ? setSourceAttr(iface, attr, to) : iface;
  });
  return out;
}
