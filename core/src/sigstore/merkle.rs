//! RFC 6962 / RFC 9162 Merkle tree inclusion proofs, as transparency logs (Rekor) serve them.

use sha2::{Digest as _, Sha256};

/// Why an inclusion proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// More or fewer hashes than a path from that leaf has.
    #[error("the proof has {0} hashes, not the number a path from this leaf has")]
    WrongLength(usize),
    /// The computed root differs from the one given.
    #[error("the computed root hash differs from the checkpoint's")]
    RootMismatch,
}

/// The hash of a leaf: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &[u8; 32],
    index: u64,
    size: u64,
    proof: &[[u8; 32]],
    root: &[u8; 32],
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(MerkleError::WrongLength(proof.len()));
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
    if s_n != 0 {
        return Err(MerkleError::WrongLength(proof.len()));
    }
    if &r != root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Root of a tree over `leaves` (RFC 9162 MTH), the reference the proofs are checked against.
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            1 => leaves[0],
            n => {
                let k = (n as u64).next_power_of_two() as usize / 2;
                let k = if k == n { k / 2 } else { k };
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    /// PATH(m, D[n]) from RFC 9162.
    fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
        let n = leaves.len();
        if n == 1 {
            return vec![];
        }
        let k = (n as u64).next_power_of_two() as usize / 2;
        let k = if k == n { k / 2 } else { k };
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    #[test]
    fn every_leaf_of_every_small_tree() {
        for n in 1..=33usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
            let root = mth(&leaves);
            for m in 0..n {
                let p = path(m, &leaves);
                verify_inclusion(&leaves[m], m as u64, n as u64, &p, &root)
                    .unwrap_or_else(|e| panic!("n={n} m={m}: {e}"));
                // Any change breaks it.
                let mut bad = root;
                bad[0] ^= 1;
                assert!(verify_inclusion(&leaves[m], m as u64, n as u64, &p, &bad).is_err());
                if !p.is_empty() {
                    let mut q = p.clone();
                    q[0][5] ^= 1;
                    assert!(verify_inclusion(&leaves[m], m as u64, n as u64, &q, &root).is_err());
                    assert!(
                        verify_inclusion(&leaves[m], m as u64, n as u64, &p[1..], &root).is_err()
                    );
                }
                let mut longer = p.clone();
                longer.push(root);
                assert!(verify_inclusion(&leaves[m], m as u64, n as u64, &longer, &root).is_err());
            }
            assert!(verify_inclusion(&leaves[0], n as u64, n as u64, &[], &root).is_err());
        }
    }
}
