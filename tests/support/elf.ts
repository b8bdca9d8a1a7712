/**
 * Reads what a test needs from an ELF64 little-endian shared library: the defined global symbols
 * of its dynamic symbol table, and whether DT_FLAGS_1 has DF_1_NODELETE. No external tools needed.
 */

export interface ElfDynamic {
  exported: string[];
  nodelete: boolean;
}

const SHT_DYNSYM = 11;
const SHT_DYNAMIC = 6;
const DT_FLAGS_1 = 0x6ffffffb;
const DF_1_NODELETE = 0x8;
const STB_GLOBAL = 1;
const STB_WEAK = 2;

export function readElfDynamic(bytes: Uint8Array): ElfDynamic {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== 0x7f454c46 || bytes[4] !== 2 || bytes[5] !== 1) {
    throw new Error("not an ELF64 little-endian file");
  }
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const section = (i: number) => {
    const base = shoff + i * shentsize;
    return {
      type: view.getUint32(base + 4, true),
      offset: Number(view.getBigUint64(base + 0x18, true)),
      size: Number(view.getBigUint64(base + 0x20, true)),
      link: view.getUint32(base + 0x28, true),
      entsize: Number(view.getBigUint64(base + 0x38, true)),
    };
  };
  const exported: string[] = [];
  let nodelete = false;
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type === SHT_DYNSYM) {
      const strtab = section(s.link);
      for (let off = s.offset + s.entsize; off < s.offset + s.size; off += s.entsize) {
        const nameOff = view.getUint32(off, true);
        const info = bytes[off + 4];
        const shndx = view.getUint16(off + 6, true);
        const bind = info >> 4;
        if (shndx === 0 || (bind !== STB_GLOBAL && bind !== STB_WEAK)) continue;
        const start = strtab.offset + nameOff;
        exported.push(new TextDecoder().decode(bytes.subarray(start, bytes.indexOf(0, start))));
      }
    } else if (s.type === SHT_DYNAMIC) {
      for (let off = s.offset; off < s.offset + s.size; off += 16) {
        if (Number(view.getBigInt64(off, true)) === DT_FLAGS_1) {
          nodelete = (Number(view.getBigUint64(off + 8, true)) & DF_1_NODELETE) !== 0;
        }
      }
    }
  }
  return { exported, nodelete };
}
