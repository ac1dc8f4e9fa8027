//! The Merkle tree of RFC 9162 §2.1 (the Certificate Transparency tree).
//!
//! Leaves are the ledger's entries: `leaf = SHA-256(0x00 ‖ entry bytes)`,
//! `node = SHA-256(0x01 ‖ left ‖ right)`, and a tree of `n` leaves splits at
//! the largest power of two below `n`. A signed checkpoint commits to the root
//! of the first `n` entries; an inclusion proof shows one entry is among them,
//! a consistency proof that an older checkpoint's tree is a prefix of a newer
//! one — so entries can neither be changed, removed nor reordered after a
//! checkpoint was signed without the proofs failing.
//!
//! Proof generation reads hashes through [`NodeSource`]: the hash of each
//! *perfect* subtree (`2^level` leaves starting at `index · 2^level`). The
//! ledger stores those as they complete, so a root or a proof costs O(log² n)
//! lookups however long the log grows. Verification needs nothing but the
//! proof and is what a third party re-implements (see FORMAT.md).

use sha2::{Digest as _, Sha256};

use crate::Digest;

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Digest(h.finalize().into())
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Digest(h.finalize().into())
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Digest {
    Digest::of(b"")
}

/// Where proofs get their hashes: the hash of the perfect subtree of
/// `2^level` leaves that starts at leaf `index << level`.
pub trait NodeSource {
    type Error;
    fn perfect(&self, level: u32, index: u64) -> Result<Digest, Self::Error>;
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `[lo, hi)`; `lo` is always aligned to the subtree size the
/// recursion produces, so power-of-two ranges are perfect subtrees.
fn subtree<S: NodeSource>(src: &S, lo: u64, hi: u64) -> Result<Digest, S::Error> {
    let n = hi - lo;
    if n.is_power_of_two() {
        let level = n.trailing_zeros();
        return src.perfect(level, lo >> level);
    }
    let k = split(n);
    Ok(node_hash(&subtree(src, lo, lo + k)?, &subtree(src, lo + k, hi)?))
}

/// The root of the first `size` leaves.
pub fn root<S: NodeSource>(src: &S, size: u64) -> Result<Digest, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    subtree(src, 0, size)
}

/// The audit path for leaf `index` in the tree of the first `size` leaves
/// (RFC 9162 §2.1.3.1). `index < size` is the caller's to check.
pub fn inclusion_proof<S: NodeSource>(src: &S, index: u64, size: u64) -> Result<Vec<Digest>, S::Error> {
    let mut path = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    // Walk down from the root, collecting the sibling of each step; the path
    // is ordered leaf-side first, so reverse at the end.
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            path.push(subtree(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(subtree(src, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof between the trees of `old` and `new` leaves
/// (RFC 9162 §2.1.4.1). `0 < old ≤ new` is the caller's to check.
pub fn consistency_proof<S: NodeSource>(src: &S, old: u64, new: u64) -> Result<Vec<Digest>, S::Error> {
    let mut proof = Vec::new();
    subproof(src, old, 0, new, true, &mut proof)?;
    Ok(proof)
}

/// SUBPROOF(m, D[lo:hi], b) with `m` counted from `lo`.
fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    out: &mut Vec<Digest>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push(subtree(src, lo, hi)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, lo, lo + k, whole, out)?;
        out.push(subtree(src, lo + k, hi)?);
    } else {
        subproof(src, m - k, lo + k, hi, false, out)?;
        out.push(subtree(src, lo, lo + k)?);
    }
    Ok(())
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): true when `leaf` is leaf
/// `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Digest, proof: &[Digest], root: &Digest) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): true when the tree of
/// `old` leaves with root `old_root` is a prefix of the tree of `new` leaves
/// with root `new_root`.
pub fn verify_consistency(old: u64, new: u64, old_root: &Digest, new_root: &Digest, proof: &[Digest]) -> bool {
    if old == 0 || old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Digest> = proof.to_vec();
    if old.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && fr == *old_root && sr == *new_root
}

/// An in-memory tree (tests, and bundles that prove against a small log).
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    /// `levels[l][i]` is the perfect subtree hash at level `l`, index `i`.
    levels: Vec<Vec<Digest>>,
}

impl MemoryTree {
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a leaf hash and every perfect subtree it completes.
    pub fn push(&mut self, leaf: Digest) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let n = self.levels[level].len();
            if n % 2 == 1 {
                break;
            }
            hash = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            level += 1;
        }
    }
}

/// The hashes a ledger must store when leaf `index` is appended: the leaf and
/// every perfect subtree it completes, as `(level, index, hash)` — given a
/// way to read already-stored ones.
pub fn completed_by<S: NodeSource>(src: &S, index: u64, leaf: Digest) -> Result<Vec<(u32, u64, Digest)>, S::Error> {
    let mut out = vec![(0, index, leaf)];
    let (mut level, mut i, mut hash) = (0u32, index, leaf);
    while i & 1 == 1 {
        let left = src.perfect(level, i - 1)?;
        hash = node_hash(&left, &hash);
        level += 1;
        i >>= 1;
        out.push((level, i, hash));
    }
    Ok(out)
}

/// A missing node in a [`MemoryTree`].
#[derive(Debug, thiserror::Error)]
#[error("merkle tree has no node at level {level}, index {index}")]
pub struct MissingNode {
    pub level: u32,
    pub index: u64,
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;
    fn perfect(&self, level: u32, index: u64) -> Result<Digest, MissingNode> {
        self.levels.get(level as usize).and_then(|l| l.get(index as usize)).copied().ok_or(MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6962 / Certificate Transparency reference vectors.
    const LEAVES: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn d(h: &str) -> Digest {
        Digest::from_hex(h).unwrap()
    }

    fn tree(n: usize) -> MemoryTree {
        let mut t = MemoryTree::new();
        for l in &LEAVES[..n] {
            t.push(leaf_hash(l));
        }
        t
    }

    #[test]
    fn roots_match_the_reference_vectors() {
        assert_eq!(root(&tree(0), 0).unwrap(), empty_root());
        let t = tree(8);
        for n in 1..=8u64 {
            assert_eq!(root(&t, n).unwrap(), d(ROOTS[n as usize - 1]), "size {n}");
        }
    }

    #[test]
    fn proofs_match_the_reference_vectors() {
        let t = tree(8);
        let p = inclusion_proof(&t, 0, 8).unwrap();
        let want = [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ];
        assert_eq!(p, want.map(d));
        let p = inclusion_proof(&t, 5, 8).unwrap();
        let want = [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ];
        assert_eq!(p, want.map(d));
        let c = consistency_proof(&t, 6, 8).unwrap();
        let want = [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ];
        assert_eq!(c, want.map(d));
        let c = consistency_proof(&t, 2, 5).unwrap();
        let want = [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ];
        assert_eq!(c, want.map(d));
    }

    #[test]
    fn every_proof_verifies_and_every_wrong_one_fails() {
        let mut t = MemoryTree::new();
        let leaves: Vec<Digest> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for l in &leaves {
            t.push(*l);
        }
        for size in 1..=70u64 {
            let r = root(&t, size).unwrap();
            for i in 0..size {
                let p = inclusion_proof(&t, i, size).unwrap();
                assert!(verify_inclusion(i, size, &leaves[i as usize], &p, &r), "i={i} size={size}");
                // The same proof does not prove another position or leaf.
                assert!(!verify_inclusion((i + 1) % size.max(2), size, &leaves[i as usize], &p, &r) || size == 1);
                assert!(!verify_inclusion(i, size, &leaf_hash(b"other"), &p, &r));
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0] = node_hash(first, first);
                    assert!(!verify_inclusion(i, size, &leaves[i as usize], &bad, &r));
                }
            }
            for old in 1..=size {
                let c = consistency_proof(&t, old, size).unwrap();
                let or = root(&t, old).unwrap();
                assert!(verify_consistency(old, size, &or, &r, &c), "old={old} new={size}");
                if old < size {
                    assert!(!verify_consistency(old, size, &leaf_hash(b"x"), &r, &c));
                    let mut short = c.clone();
                    short.pop();
                    assert!(!verify_consistency(old, size, &or, &r, &short));
                }
            }
        }
    }

    #[test]
    fn completed_nodes_agree_with_the_memory_tree() {
        let mut t = MemoryTree::new();
        let mut stored = std::collections::BTreeMap::new();
        struct Map<'a>(&'a std::collections::BTreeMap<(u32, u64), Digest>);
        impl NodeSource for Map<'_> {
            type Error = MissingNode;
            fn perfect(&self, level: u32, index: u64) -> Result<Digest, MissingNode> {
                self.0.get(&(level, index)).copied().ok_or(MissingNode { level, index })
            }
        }
        for i in 0..33u64 {
            let leaf = leaf_hash(&i.to_le_bytes());
            t.push(leaf);
            for (l, idx, h) in completed_by(&Map(&stored), i, leaf).unwrap() {
                stored.insert((l, idx), h);
            }
            assert_eq!(root(&Map(&stored), i + 1).unwrap(), root(&t, i + 1).unwrap());
        }
    }
}
