//! Decoding of the WebAssembly constant expressions stored in the `Exprs` blob.
//!
//! The compiler stores each initializer as the module's own bytes (validated by wasmparser); the
//! loader decodes them here, in place, and evaluates them at instantiation. Decoding is
//! bounds-checked: corrupt bytes give an error, never a panic.

use crate::error::FormatError;

/// One instruction of a constant expression.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConstOp {
    /// `i32.const`.
    I32Const(i32),
    /// `i64.const`.
    I64Const(i64),
    /// `f32.const`, as bits.
    F32Const(u32),
    /// `f64.const`, as bits.
    F64Const(u64),
    /// `v128.const`.
    V128Const(u128),
    /// `ref.null` of a heap type (value-type code).
    RefNull(u8),
    /// `ref.func`.
    RefFunc(u32),
    /// `global.get`.
    GlobalGet(u32),
    /// `i32.add`.
    I32Add,
    /// `i32.sub`.
    I32Sub,
    /// `i32.mul`.
    I32Mul,
    /// `i64.add`.
    I64Add,
    /// `i64.sub`.
    I64Sub,
    /// `i64.mul`.
    I64Mul,
}

/// Iterates over the instructions of one expression, stopping at `end`.
pub struct ConstExprReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> ConstExprReader<'a> {
    /// Reads `bytes`, which must end with the `end` opcode.
    pub fn new(bytes: &'a [u8]) -> Self {
        ConstExprReader {
            bytes,
            pos: 0,
            done: false,
        }
    }

    fn byte(&mut self) -> Result<u8, FormatError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(FormatError::BadConstExpr("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let end = self.pos.checked_add(N).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(FormatError::BadConstExpr("truncated"))?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
        Ok(out)
    }

    fn leb_u32(&mut self) -> Result<u32, FormatError> {
        let v = self.leb(32, false)?;
        Ok(v as u32)
    }

    fn leb(&mut self, bits: u32, signed: bool) -> Result<i64, FormatError> {
        let mut result: i64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            if shift >= bits.max(7) + 7 {
                return Err(FormatError::BadConstExpr("integer too long"));
            }
            if shift < 64 {
                result |= i64::from(b & 0x7f) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                if signed && shift < 64 && b & 0x40 != 0 {
                    result |= -1i64 << shift;
                }
                return Ok(result);
            }
        }
    }
}

impl Iterator for ConstExprReader<'_> {
    type Item = Result<ConstOp, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let op = (|| {
            Ok(Some(match self.byte()? {
                0x0b => return Ok(None),
                0x41 => ConstOp::I32Const(self.leb(32, true)? as i32),
                0x42 => ConstOp::I64Const(self.leb(64, true)?),
                0x43 => ConstOp::F32Const(u32::from_le_bytes(self.take()?)),
                0x44 => ConstOp::F64Const(u64::from_le_bytes(self.take()?)),
                0xd0 => ConstOp::RefNull(self.byte()?),
                0xd2 => ConstOp::RefFunc(self.leb_u32()?),
                0x23 => ConstOp::GlobalGet(self.leb_u32()?),
                0x6a => ConstOp::I32Add,
                0x6b => ConstOp::I32Sub,
                0x6c => ConstOp::I32Mul,
                0x7c => ConstOp::I64Add,
                0x7d => ConstOp::I64Sub,
                0x7e => ConstOp::I64Mul,
                0xfd => match self.leb_u32()? {
                    12 => ConstOp::V128Const(u128::from_le_bytes(self.take()?)),
                    _ => return Err(FormatError::BadConstExpr("unsupported instruction")),
                },
                _ => return Err(FormatError::BadConstExpr("unsupported instruction")),
            }))
        })();
        match op {
            Ok(Some(op)) => Some(Ok(op)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The value of an expression that is exactly one `i32.const` (how producers write most segment
/// offsets), or `None` for any other expression.
pub fn single_i32_const(bytes: &[u8]) -> Option<i32> {
    let mut ops = ConstExprReader::new(bytes);
    match (ops.next(), ops.next()) {
        (Some(Ok(ConstOp::I32Const(v))), None) => Some(v),
        _ => None,
    }
}

/// The offset an expression that is exactly one `i32.const` (of a 32-bit memory) or `i64.const`
/// (of a 64-bit one) gives, as the unsigned address it is; `None` for any other expression.
pub fn single_offset_const(bytes: &[u8]) -> Option<u64> {
    let mut ops = ConstExprReader::new(bytes);
    match (ops.next(), ops.next()) {
        (Some(Ok(ConstOp::I32Const(v))), None) => Some(u64::from(v as u32)),
        (Some(Ok(ConstOp::I64Const(v))), None) => Some(v as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_instruction() {
        let bytes = [
            0x41, 0x7f, // i32.const -1
            0x42, 0x80, 0x01, // i64.const 128
            0x43, 0, 0, 0x80, 0x3f, // f32.const 1.0
            0x23, 0x02, // global.get 2
            0x6a, // i32.add
            0xd2, 0x05, // ref.func 5
            0xd0, 0x70, // ref.null func
            0xfd, 0x0c, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 1
            0x0b,
        ];
        let ops: Vec<ConstOp> = ConstExprReader::new(&bytes)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            ops,
            [
                ConstOp::I32Const(-1),
                ConstOp::I64Const(128),
                ConstOp::F32Const(0x3f80_0000),
                ConstOp::GlobalGet(2),
                ConstOp::I32Add,
                ConstOp::RefFunc(5),
                ConstOp::RefNull(0x70),
                ConstOp::V128Const(1),
            ]
        );
    }

    #[test]
    fn refuses_truncated_and_unknown_bytes() {
        for bad in [
            &[0x41][..],
            &[0x41, 0x80],
            &[0x44, 0, 0],
            &[0x01, 0x0b],
            &[0xfd, 0x00],
        ] {
            let r: Result<Vec<_>, _> = ConstExprReader::new(bad).collect();
            assert!(matches!(r, Err(FormatError::BadConstExpr(_))), "{bad:?}");
        }
        let too_long = [0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x0b];
        assert!(ConstExprReader::new(&too_long).any(|r| r.is_err()));
    }

    #[test]
    fn single_constant() {
        assert_eq!(single_i32_const(&[0x41, 0x80, 0x08, 0x0b]), Some(1024));
        assert_eq!(single_i32_const(&[0x41, 0x7f, 0x0b]), Some(-1));
        assert_eq!(single_i32_const(&[0x23, 0x00, 0x0b]), None);
        assert_eq!(
            single_offset_const(&[0x41, 0x7f, 0x0b]),
            Some(u64::from(u32::MAX))
        );
        assert_eq!(single_offset_const(&[0x42, 0x7f, 0x0b]), Some(u64::MAX));
        assert_eq!(
            single_i32_const(&[0x41, 0x01, 0x41, 0x02, 0x6a, 0x0b]),
            None
        );
    }
}
