//! Dot-stuffing of the message for DATA (RFC 5321 §4.5.2): a line starting with `.` gets one
//! more. The bytes are otherwise sent as they are (PEC-SPEC §9.2: relays must not alter the
//! encoding); only a missing final CRLF is added, so that `CRLF . CRLF` can end the data.

/// Stuffs `input`, continuing from the state of the previous call.
#[derive(Debug)]
pub(crate) struct DotStuffer {
    at_line_start: bool,
}

impl DotStuffer {
    pub fn new() -> Self {
        DotStuffer {
            at_line_start: true,
        }
    }

    /// Appends the stuffed form of `input` to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut start = 0;
        for (i, &b) in input.iter().enumerate() {
            if self.at_line_start && b == b'.' {
                out.extend_from_slice(&input[start..i]);
                out.push(b'.');
                start = i;
            }
            self.at_line_start = b == b'\n';
        }
        out.extend_from_slice(&input[start..]);
    }
}

/// The end of the data: a CRLF if `data` lacks a final one, then `.` CRLF.
pub(crate) fn terminator(data: &[u8]) -> &'static [u8] {
    if data.ends_with(b"\r\n") {
        b".\r\n"
    } else {
        b"\r\n.\r\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuff(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::new();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        out
    }

    #[test]
    fn leading_dots_are_doubled() {
        assert_eq!(stuff(&[b".a\r\nb.\r\n..c\r\n"]), b"..a\r\nb.\r\n...c\r\n");
        assert_eq!(stuff(&[b"a\r\n.\r\n"]), b"a\r\n..\r\n");
        // Across chunk boundaries.
        assert_eq!(
            stuff(&[b"a\r\n", b".b\r", b"\n.", b"c"]),
            b"a\r\n..b\r\n..c"
        );
    }

    #[test]
    fn final_crlf_is_added_only_when_missing() {
        assert_eq!(terminator(b"a\r\n"), b".\r\n");
        assert_eq!(terminator(b"a"), b"\r\n.\r\n");
        assert_eq!(terminator(b""), b"\r\n.\r\n");
    }
}
