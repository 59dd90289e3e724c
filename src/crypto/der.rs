//! A structural check of DER before it reaches josekit: its DER reader allocates whatever
//! length a header declares, so 20 stray bytes claiming a 60-petabyte element abort the
//! process. Every element's length must fit inside its parent, nested ones included.

/// Deepest nesting a private key needs (PKCS#8 around SEC1 or PKCS#1 is four or five).
const MAX_DEPTH: usize = 16;

/// Whether `der` is one DER element whose nested lengths all fit (a structural check
/// only: what the elements mean is josekit's to judge).
pub fn well_formed(der: &[u8]) -> bool {
    matches!(element(der, 0), Some(rest) if rest.is_empty())
}

/// Reads one element; returns what follows it.
fn element(input: &[u8], depth: usize) -> Option<&[u8]> {
    if depth > MAX_DEPTH {
        return None;
    }
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags never occur in key encodings
    }
    let (&first, mut rest) = rest.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b))
    };
    if length > rest.len() {
        return None;
    }
    let (mut content, after) = rest.split_at(length);
    if tag & 0x20 != 0 {
        while !content.is_empty() {
            content = element(content, depth + 1)?;
        }
    }
    Some(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_must_fit_at_every_level() {
        assert!(well_formed(&[0x30, 0x03, 0x02, 0x01, 0x05]));
        // the header that made josekit try to allocate 69 PB
        assert!(!well_formed(&[0x02, 0x88, 0xf6, 0xaa, 0, 0, 0, 0, 0, 0, 1]));
        // the outer length fits, an inner one does not
        assert!(!well_formed(&[0x30, 0x03, 0x02, 0x84, 0x7f]));
        // trailing bytes
        assert!(!well_formed(&[0x30, 0x00, 0x00]));
        assert!(!well_formed(&[]));
        let nested = [[0x30u8, 0x02].repeat(20), vec![0x05, 0x00]].concat();
        assert!(!well_formed(&nested), "nesting is bounded");
    }
}
