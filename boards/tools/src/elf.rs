//! Just enough ELF (32/64-bit little-endian section headers) to size a
//! firmware's sections: code, the weight blob, the arena.

/// One section of an ELF file.
#[derive(Clone, Debug)]
pub struct Section {
    /// Section name, e.g. `.text`.
    pub name: String,
    /// Load address.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// Occupies memory at run time (`SHF_ALLOC`).
    pub alloc: bool,
    /// Holds instructions (`SHF_EXECINSTR`).
    pub exec: bool,
    /// Has no bytes in the file (`SHT_NOBITS`: .bss, NOLOAD).
    pub nobits: bool,
}

fn uint(b: &[u8], at: usize, n: usize) -> Option<u64> {
    let s = b.get(at..at + n)?;
    Some(s.iter().rev().fold(0u64, |v, &x| v << 8 | x as u64))
}

/// Parses the section headers of a little-endian ELF file.
pub fn sections(b: &[u8]) -> Result<Vec<Section>, String> {
    if b.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    if b.get(5) != Some(&1) {
        return Err("not a little-endian ELF file".into());
    }
    let is64 = match b.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err("bad ELF class".into()),
    };
    let w = if is64 { 8 } else { 4 };
    let bad = || "truncated ELF header".to_string();
    let (shoff, shentsize, shnum, shstrndx) = if is64 {
        (
            uint(b, 0x28, 8).ok_or_else(bad)?,
            uint(b, 0x3a, 2).ok_or_else(bad)?,
            uint(b, 0x3c, 2).ok_or_else(bad)?,
            uint(b, 0x3e, 2).ok_or_else(bad)?,
        )
    } else {
        (
            uint(b, 0x20, 4).ok_or_else(bad)?,
            uint(b, 0x2e, 2).ok_or_else(bad)?,
            uint(b, 0x30, 2).ok_or_else(bad)?,
            uint(b, 0x32, 2).ok_or_else(bad)?,
        )
    };
    // (name, type, flags, addr, offset, size) of section `i`.
    let header = |i: u64| -> Option<(u64, u64, u64, u64, u64, u64)> {
        let h = (shoff + i * shentsize) as usize;
        let flags = uint(b, h + 8, w)?;
        let addr = uint(b, h + 8 + w, w)?;
        let offset = uint(b, h + 8 + 2 * w, w)?;
        let size = uint(b, h + 8 + 3 * w, w)?;
        Some((
            uint(b, h, 4)?,
            uint(b, h + 4, 4)?,
            flags,
            addr,
            offset,
            size,
        ))
    };
    let (_, _, _, _, str_off, str_size) = header(shstrndx).ok_or_else(bad)?;
    let strtab = b
        .get(str_off as usize..(str_off + str_size) as usize)
        .ok_or_else(bad)?;
    let mut out = Vec::new();
    for i in 0..shnum {
        let (name, kind, flags, addr, _, size) = header(i).ok_or_else(bad)?;
        let name = strtab
            .get(name as usize..)
            .and_then(|s| s.split(|&c| c == 0).next())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .unwrap_or_default();
        out.push(Section {
            name,
            addr,
            size,
            alloc: flags & 0x2 != 0,
            exec: flags & 0x4 != 0,
            nobits: kind == 8,
        });
    }
    Ok(out)
}

/// The end of the bytes a file loads at physical addresses `lo..hi` (its
/// `PT_LOAD` segments' `p_paddr + p_filesz`, so `.data`'s flash copy
/// counts): what a flash of `hi - lo` bytes at `lo` must hold. `None` if no
/// segment loads there.
pub fn loaded_end(b: &[u8], lo: u64, hi: u64) -> Result<Option<u64>, String> {
    let is64 = b.get(4) == Some(&2);
    let bad = || "truncated ELF program headers".to_string();
    let (phoff, phentsize, phnum) = if is64 {
        (uint(b, 0x20, 8), uint(b, 0x36, 2), uint(b, 0x38, 2))
    } else {
        (uint(b, 0x1c, 4), uint(b, 0x2a, 2), uint(b, 0x2c, 2))
    };
    let (phoff, phentsize, phnum) = (
        phoff.ok_or_else(bad)?,
        phentsize.ok_or_else(bad)?,
        phnum.ok_or_else(bad)?,
    );
    let mut end = None;
    for i in 0..phnum {
        let h = (phoff + i * phentsize) as usize;
        // (type, physical address, bytes in the file)
        let (kind, paddr, filesz) = if is64 {
            (uint(b, h, 4), uint(b, h + 0x18, 8), uint(b, h + 0x20, 8))
        } else {
            (uint(b, h, 4), uint(b, h + 0x0c, 4), uint(b, h + 0x10, 4))
        };
        let (kind, paddr, filesz) = (
            kind.ok_or_else(bad)?,
            paddr.ok_or_else(bad)?,
            filesz.ok_or_else(bad)?,
        );
        if kind == 1 && filesz > 0 && (lo..hi).contains(&paddr) {
            end = end.max(Some(paddr + filesz));
        }
    }
    Ok(end)
}
