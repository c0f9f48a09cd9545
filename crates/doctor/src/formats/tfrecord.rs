//! TFRecord framing, the container of TensorBoard event files: each record is
//! `u64 length (LE) | u32 masked crc32c(length) | data | u32 masked crc32c(data)`.

use crate::error::{DoctorError, Location};
use std::path::Path;

const HEADER: usize = 12;
const FOOTER: usize = 4;

/// TFRecord's checksum: CRC-32C, rotated and offset so that a CRC of data holding CRCs stays strong.
pub(crate) fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn read_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Whether the bytes start with a TFRecord header whose length checksum holds.
pub(crate) fn looks_like_tfrecord(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER && read_u32(&bytes[8..12]) == masked_crc(&bytes[..8])
}

/// Iterates over the records' payloads. Both checksums are checked; a mismatch is an error
/// naming the byte offset of the record. A record cut short at the end of the file (a writer
/// still running) ends the iteration quietly.
pub(crate) struct Records<'a> {
    bytes: &'a [u8],
    offset: usize,
    path: &'a Path,
}

impl<'a> Records<'a> {
    pub fn new(bytes: &'a [u8], path: &'a Path) -> Self {
        Records {
            bytes,
            offset: 0,
            path,
        }
    }

    fn error(&self, message: &str) -> DoctorError {
        DoctorError::parse(
            self.path,
            Location::Byte(self.offset as u64),
            format!("{message} (expected a TFRecord of a TensorBoard event file)"),
        )
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<&'a [u8], DoctorError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.bytes[self.offset..];
        if rest.len() < HEADER {
            return None;
        }
        let len_bytes = &rest[..8];
        if read_u32(&rest[8..12]) != masked_crc(len_bytes) {
            let err = self.error("record length checksum mismatch");
            self.offset = self.bytes.len();
            return Some(Err(err));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let available = (rest.len() - HEADER) as u64;
        if len.saturating_add(FOOTER as u64) > available {
            self.offset = self.bytes.len();
            return None;
        }
        let len = len as usize;
        let data = &rest[HEADER..HEADER + len];
        let crc = read_u32(&rest[HEADER + len..HEADER + len + FOOTER]);
        if crc != masked_crc(data) {
            let err = self.error("record data checksum mismatch");
            self.offset = self.bytes.len();
            return Some(Err(err));
        }
        self.offset += HEADER + len + FOOTER;
        Some(Ok(data))
    }
}

/// Frames one record (for writing test files and benchmarks).
pub fn write_record(out: &mut Vec<u8>, data: &[u8]) {
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> Result<Vec<Vec<u8>>, DoctorError> {
        Records::new(bytes, Path::new("e"))
            .map(|r| r.map(<[u8]>::to_vec))
            .collect()
    }

    #[test]
    fn round_trip_and_truncated_tail() {
        let mut out = Vec::new();
        write_record(&mut out, b"hello");
        write_record(&mut out, b"");
        write_record(&mut out, b"world!");
        assert!(looks_like_tfrecord(&out));
        assert_eq!(
            collect(&out).unwrap(),
            vec![b"hello".to_vec(), vec![], b"world!".to_vec()]
        );
        for cut in 1..10 {
            let got = collect(&out[..out.len() - cut]).unwrap();
            assert_eq!(got.len(), 2, "cut {cut}");
        }
    }

    #[test]
    fn corrupt_data_names_the_byte_offset() {
        let mut out = Vec::new();
        write_record(&mut out, b"hello");
        let second = out.len();
        write_record(&mut out, b"world");
        out[second + HEADER + 1] ^= 0x40;
        let err = collect(&out).unwrap_err();
        assert!(
            err.to_string().contains(&format!("byte offset {second}")),
            "{err}"
        );
        assert!(err.to_string().contains("data checksum"), "{err}");
    }

    #[test]
    fn corrupt_length_is_an_error() {
        let mut out = Vec::new();
        write_record(&mut out, b"hello");
        out[0] ^= 1;
        assert!(collect(&out).is_err());
    }

    #[test]
    fn known_checksum() {
        // Every TensorBoard event file starts with the record of its 24-byte
        // `brain.Event:2` header: the length 24 as u64 LE, then the masked crc32c of those
        // eight bytes, which TensorFlow writes as a3 7f 4b 22.
        let length = 24u64.to_le_bytes();
        assert_eq!(masked_crc(&length).to_le_bytes(), [0xa3, 0x7f, 0x4b, 0x22]);
        // The mask itself: crc32c("123456789") = 0xE3069283 (the standard check value),
        // rotated right by 15 and offset by 0xa282ead8.
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
    }
}
