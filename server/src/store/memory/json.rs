//! SQLite's `json_valid`, for the JSON columns.

/// How deep SQLite's JSON parser nests arrays and objects (`JSON_MAX_DEPTH`).
pub(super) const JSON_MAX_DEPTH: usize = 1000;

/// SQLite's `json_valid(text)`: canonical RFC 8259 JSON (no JSON5), at most
/// [`JSON_MAX_DEPTH`] levels deep. Like SQLite, it reads the text up to its first NUL byte, and
/// it checks `\u` escapes for four hex digits but not for paired surrogates.
pub(super) fn json_valid(text: &str) -> bool {
    let bytes = text.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let mut json = Json {
        text: bytes.get(..end).unwrap_or_default(),
        at: 0,
    };
    json.space();
    if !json.value(0) {
        return false;
    }
    json.space();
    json.at == json.text.len()
}

/// A JSON validator over bytes.
pub(super) struct Json<'a> {
    text: &'a [u8],
    at: usize,
}

impl Json<'_> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    pub(super) fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// RFC 8259 whitespace only (JSON5's extra spaces and comments are not valid).
    pub(super) fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// One value; `depth` is how many arrays and objects enclose it.
    pub(super) fn value(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string(),
            Some(b't') => self.word(b"true"),
            Some(b'f') => self.word(b"false"),
            Some(b'n') => self.word(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    pub(super) fn object(&mut self, depth: usize) -> bool {
        if depth > JSON_MAX_DEPTH {
            return false;
        }
        self.at += 1;
        self.space();
        if self.eat(b'}') {
            return true;
        }
        loop {
            if !self.string() {
                return false;
            }
            self.space();
            if !self.eat(b':') {
                return false;
            }
            self.space();
            if !self.value(depth) {
                return false;
            }
            self.space();
            if self.eat(b'}') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
            self.space();
        }
    }

    pub(super) fn array(&mut self, depth: usize) -> bool {
        if depth > JSON_MAX_DEPTH {
            return false;
        }
        self.at += 1;
        self.space();
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            self.space();
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
            self.space();
        }
    }

    pub(super) fn string(&mut self) -> bool {
        if !self.eat(b'"') {
            return false;
        }
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return true;
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.at += 1;
                        }
                        Some(b'u') => {
                            let hex = self.text.get(self.at + 1..self.at + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return false;
                            }
                            self.at += 5;
                        }
                        _ => return false,
                    }
                }
                // The end, or a control character (allowed by JSON5 only).
                None | Some(0..=0x1f) => return false,
                Some(_) => self.at += 1,
            }
        }
    }

    pub(super) fn word(&mut self, word: &[u8]) -> bool {
        let found = self
            .text
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(word));
        if found {
            self.at += word.len();
        }
        found
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; a leading zero followed by a
    /// digit fails at the caller, which finds a digit where it expects a separator.
    pub(super) fn number(&mut self) -> bool {
        self.eat(b'-');
        if !self.eat(b'0') && !self.digits() {
            return false;
        }
        if self.eat(b'.') && !self.digits() {
            return false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !self.digits() {
                return false;
            }
        }
        true
    }

    /// One or more digits.
    pub(super) fn digits(&mut self) -> bool {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at > start
    }
}
