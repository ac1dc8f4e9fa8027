//! [`IVec`]: a key or value as the store hands it out.

use std::borrow::Borrow;
use std::ops::Deref;

/// Bytes read from the store (or to be written): derefs to `[u8]`, and
/// converts from anything byte-like (`&[u8]`, `Vec<u8>`, `&str`, arrays).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IVec(Vec<u8>);

impl std::fmt::Debug for IVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl Deref for IVec {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for IVec {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for IVec {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for IVec {
    fn from(v: Vec<u8>) -> IVec {
        IVec(v)
    }
}

impl From<&[u8]> for IVec {
    fn from(v: &[u8]) -> IVec {
        IVec(v.to_vec())
    }
}

impl From<&Vec<u8>> for IVec {
    fn from(v: &Vec<u8>) -> IVec {
        IVec(v.clone())
    }
}

impl From<&IVec> for IVec {
    fn from(v: &IVec) -> IVec {
        v.clone()
    }
}

impl From<&str> for IVec {
    fn from(v: &str) -> IVec {
        IVec(v.as_bytes().to_vec())
    }
}

impl From<String> for IVec {
    fn from(v: String) -> IVec {
        IVec(v.into_bytes())
    }
}

impl From<&String> for IVec {
    fn from(v: &String) -> IVec {
        IVec(v.as_bytes().to_vec())
    }
}

impl<const N: usize> From<[u8; N]> for IVec {
    fn from(v: [u8; N]) -> IVec {
        IVec(v.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for IVec {
    fn from(v: &[u8; N]) -> IVec {
        IVec(v.to_vec())
    }
}

impl From<IVec> for Vec<u8> {
    fn from(v: IVec) -> Vec<u8> {
        v.0
    }
}

impl PartialEq<[u8]> for IVec {
    fn eq(&self, other: &[u8]) -> bool {
        self.0 == other
    }
}

impl PartialEq<&[u8]> for IVec {
    fn eq(&self, other: &&[u8]) -> bool {
        self.0 == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for IVec {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.0 == other[..]
    }
}

impl PartialEq<Vec<u8>> for IVec {
    fn eq(&self, other: &Vec<u8>) -> bool {
        &self.0 == other
    }
}
