//! The little-endian binary form of the replay files of a checkpoint (`replay.bin`, `episodes.bin`):
//! each starts with an 8-byte magic naming the file's kind and a u32 format version, so a file of another
//! kind or version is refused before its sizes are read; lengths read from a file never allocate more
//! than the bytes the file holds.

use std::io::{Error, ErrorKind, Read, Result, Write};

/// Writes the magic and the version.
pub fn write_header(w: &mut impl Write, magic: &[u8; 8], version: u32) -> Result<()> {
    w.write_all(magic)?;
    w.write_all(&version.to_le_bytes())
}

/// Reads and checks the magic and the version of a file of kind `what` (e.g. "replay buffer").
pub fn read_header(r: &mut impl Read, magic: &[u8; 8], version: u32, what: &str) -> Result<()> {
    let mut got = [0u8; 8];
    r.read_exact(&mut got)?;
    if &got != magic {
        return Err(invalid(format!("not {what} file (bad magic)")));
    }
    let mut v = [0u8; 4];
    r.read_exact(&mut v)?;
    let v = u32::from_le_bytes(v);
    if v != version {
        return Err(invalid(format!(
            "{what} format version {v}, this build reads {version}"
        )));
    }
    Ok(())
}

pub fn write_u64(w: &mut impl Write, n: usize) -> Result<()> {
    w.write_all(&(n as u64).to_le_bytes())
}

pub fn read_u64(r: &mut impl Read) -> Result<usize> {
    let mut word = [0u8; 8];
    r.read_exact(&mut word)?;
    usize::try_from(u64::from_le_bytes(word)).map_err(|_| invalid("a size beyond this machine's word".into()))
}

pub fn write_f32s(w: &mut impl Write, values: &[f32]) -> Result<()> {
    for x in values {
        w.write_all(&x.to_le_bytes())?;
    }
    Ok(())
}

/// `n` f32s, allocated only as the bytes arrive: a damaged length cannot ask for more memory than the
/// file holds.
pub fn read_f32s(r: &mut impl Read, n: usize) -> Result<Vec<f32>> {
    let wanted = n
        .checked_mul(4)
        .ok_or_else(|| invalid(format!("field length {n} overflows")))?;
    let mut bytes = Vec::new();
    r.take(wanted as u64).read_to_end(&mut bytes)?;
    if bytes.len() != wanted {
        return Err(Error::new(ErrorKind::UnexpectedEof, "the file ends early"));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_lengths_are_checked() {
        let mut bytes = Vec::new();
        write_header(&mut bytes, b"ABCDEFGH", 3).unwrap();
        write_f32s(&mut bytes, &[1.5, -2.0]).unwrap();
        let mut r = bytes.as_slice();
        read_header(&mut r, b"ABCDEFGH", 3, "a test").unwrap();
        assert_eq!(read_f32s(&mut r, 2).unwrap(), [1.5, -2.0]);
        assert!(read_header(&mut bytes.as_slice(), b"ABCDEFGX", 3, "a test").is_err());
        let err = read_header(&mut bytes.as_slice(), b"ABCDEFGH", 4, "a test").unwrap_err();
        assert!(err.to_string().contains("version 3"), "{err}");
        assert!(read_f32s(&mut &bytes[12..], 3).is_err());
        assert!(read_f32s(&mut &bytes[12..], usize::MAX).is_err());
    }
}
