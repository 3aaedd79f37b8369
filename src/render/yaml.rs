//! The YAML text of the rendered config files, written directly: the same bytes
//! serde_yaml_ng 0.10 writes, without its emitter.
//!
//! serde_yaml_ng hands every value, as events, to libyaml's emitter
//! (unsafe-libyaml 0.2.11); a profile of `build` put about 70 % of a stack's
//! build time there (bench/findings.md, finding 4). The bytes
//! must not change: every config file's hash is in a pod template annotation,
//! so different bytes would roll every pod of every stack on upgrade. This
//! serializer therefore writes exactly what serde_yaml_ng writes for the shapes
//! the configs have (block mappings and sequences of scalars, `{}` and `[]` when
//! empty, plain, single-quoted, double-quoted and literal scalars), and gives up
//! ([`to_string`] returns `None`) on everything else, for which
//! `crate::render::to_yaml` falls back to serde_yaml_ng itself: a scalar or
//! nothing at the root, a collection or a long or multi-line scalar as a key,
//! enum tags, strings with a line break other than `\n`, and literal scalars
//! that end in two line breaks.
//!
//! The rules below were read from the sources at those tags:
//! - style choice: serde_yaml_ng 0.10.0 `src/ser.rs` (`serialize_str`: literal
//!   when the string holds `\n`, single-quoted when it would read back as null,
//!   a bool, an int or a float, by the resolvers of `src/de.rs`
//!   `visit_untagged_scalar`), and `src/libyaml/emitter.rs` (unicode on, width
//!   -1: no folding);
//! - unsafe-libyaml 0.2.11 `src/emitter.rs`: `yaml_emitter_analyze_scalar` (which
//!   styles a string allows), `yaml_emitter_select_scalar_style`,
//!   `yaml_emitter_check_simple_key` (keys of at most 128 bytes on one line), the
//!   block sequence and mapping states (a sequence under a key is not indented),
//!   `yaml_emitter_write_*_scalar` and `yaml_emitter_write_block_scalar_hints`
//!   (the `|2` and `|-` indicators); `src/macros.rs` `IS_PRINTABLE`.
//!
//! In debug builds `to_yaml` compares every fast result with serde_yaml_ng's, so
//! every test that renders a stack checks the bytes; `tests` below compare the two
//! on generated documents.

use std::fmt::{self, Display, Write as _};

use serde::Serialize;
use serde::ser::{self, Impossible};

/// `value` as serde_yaml_ng would write it, or `None` when its shape is one this
/// serializer leaves to serde_yaml_ng (see the module doc).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let mut w = Writer {
        out: String::with_capacity(1024),
        stack: Vec::with_capacity(8),
    };
    value.serialize(&mut w).ok()?;
    if !w.stack.is_empty() || w.out.is_empty() {
        return None;
    }
    if !w.out.ends_with('\n') {
        w.out.push('\n');
    }
    Some(w.out)
}

/// The reason a value is left to serde_yaml_ng (never shown to a user).
#[derive(Debug)]
pub struct Unsupported;

impl Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shape left to serde_yaml_ng")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: Display>(_msg: T) -> Self {
        Unsupported
    }
}

type Result<T = ()> = std::result::Result<T, Unsupported>;

/// Where a node is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The document itself.
    Root,
    /// A mapping key, at the start of its line.
    Key,
    /// After `key:`.
    Value,
    /// After a sequence's `-`.
    Item,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mapping,
    Sequence,
}

/// An open block collection.
struct Frame {
    kind: Kind,
    /// The column of its keys or dashes.
    indent: usize,
    /// Where the collection itself was written.
    place: Place,
    /// No entry written yet (an empty one is written `{}` or `[]`).
    empty: bool,
    /// A mapping waiting for a key rather than a value.
    want_key: bool,
}

struct Writer {
    out: String,
    stack: Vec<Frame>,
}

fn pad(out: &mut String, n: usize) {
    const SPACES: &str = "                                ";
    let mut n = n;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

impl Writer {
    /// Writes what comes before the next node (a new line and indentation, a
    /// `-`) and says where the node goes.
    fn node_start(&mut self) -> Place {
        let Some(top) = self.stack.last_mut() else {
            return Place::Root;
        };
        if top.kind == Kind::Mapping && !top.want_key {
            return Place::Value;
        }
        if top.empty {
            top.empty = false;
            match top.place {
                Place::Root => {}
                // The first key or dash of a collection under a key goes on the
                // next line.
                Place::Value | Place::Key => {
                    self.out.push('\n');
                    pad(&mut self.out, top.indent);
                }
                // After a dash (at indent - 2, so one column short): `- a: 1`.
                Place::Item => self.out.push(' '),
            }
        } else {
            if !self.out.ends_with('\n') {
                self.out.push('\n');
            }
            pad(&mut self.out, top.indent);
        }
        if top.kind == Kind::Sequence {
            self.out.push('-');
            Place::Item
        } else {
            Place::Key
        }
    }

    /// A node is complete: a mapping that had its key now wants a value, and
    /// after a value a key.
    fn node_end(&mut self) {
        if let Some(top) = self.stack.last_mut()
            && top.kind == Kind::Mapping
        {
            top.want_key = !top.want_key;
        }
    }

    fn open(&mut self, kind: Kind) -> Result {
        let place = self.node_start();
        let indent = match (place, self.stack.last()) {
            (Place::Key, _) => return Err(Unsupported),
            (Place::Root, _) | (_, None) => 0,
            // A sequence under a key is not indented; anything else is.
            (Place::Value, Some(parent)) if kind == Kind::Sequence => parent.indent,
            (_, Some(parent)) => parent.indent + 2,
        };
        self.stack.push(Frame {
            kind,
            indent,
            place,
            empty: true,
            want_key: true,
        });
        Ok(())
    }

    fn close(&mut self) -> Result {
        let frame = self.stack.pop().ok_or(Unsupported)?;
        if frame.kind == Kind::Mapping && !frame.want_key {
            return Err(Unsupported);
        }
        if frame.empty {
            if frame.place != Place::Root {
                self.out.push(' ');
            }
            self.out.push_str(if frame.kind == Kind::Mapping {
                "{}"
            } else {
                "[]"
            });
        }
        self.node_end();
        Ok(())
    }

    /// A scalar whose text needs no quoting (numbers, `true`, `null`, names).
    fn bare(&mut self, text: &str) -> Result {
        let place = self.node_start();
        match place {
            Place::Root => return Err(Unsupported),
            Place::Key if text.len() > 128 => return Err(Unsupported),
            Place::Key => {}
            Place::Value | Place::Item => self.out.push(' '),
        }
        self.out.push_str(text);
        if place == Place::Key {
            self.out.push(':');
        }
        self.node_end();
        Ok(())
    }

    fn string(&mut self, s: &str, requested: Style) -> Result {
        let a = analyze(s)?;
        let place = self.node_start();
        let key = place == Place::Key;
        if place == Place::Root || (key && (a.multiline || s.len() > 128)) {
            return Err(Unsupported);
        }
        let mut style = requested;
        if style == Style::Plain && (!a.block_plain || (s.is_empty() && key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single {
            style = Style::Double;
        }
        if style == Style::Literal && !a.block {
            style = Style::Double;
        }
        if !key {
            self.out.push(' ');
        }
        match style {
            Style::Plain => self.out.push_str(s),
            Style::Single => {
                self.out.push('\'');
                let mut parts = s.split('\'');
                self.out.push_str(parts.next().unwrap_or_default());
                for part in parts {
                    self.out.push_str("''");
                    self.out.push_str(part);
                }
                self.out.push('\'');
            }
            Style::Double => double_quoted(&mut self.out, s),
            Style::Literal => {
                let indent = self.stack.last().map_or(0, |f| f.indent) + 2;
                literal(&mut self.out, s, indent)?;
            }
        }
        if key {
            self.out.push(':');
        }
        self.node_end();
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// What a string allows, as `yaml_emitter_analyze_scalar` decides it for block
/// context.
struct Analysis {
    multiline: bool,
    block_plain: bool,
    single: bool,
    block: bool,
}

/// `IS_PRINTABLE` of unsafe-libyaml's `src/macros.rs`: `\n`, printable ASCII,
/// and everything from U+00A0 but for surrogates, the byte order mark, U+FFFE
/// and U+FFFF.
fn printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

/// `IS_BLANKZ`: a space, a tab, a line break, or the end (NUL).
fn blank_or_end(c: Option<char>) -> bool {
    matches!(c, None | Some(' ' | '\t' | '\n' | '\0'))
}

fn analyze(s: &str) -> Result<Analysis> {
    if s.is_empty() {
        return Ok(Analysis {
            multiline: false,
            block_plain: true,
            single: true,
            block: false,
        });
    }
    let indicators = s.starts_with("---") || s.starts_with("...");
    // The same scan over bytes when the text is ASCII (most are): cheaper than
    // decoding UTF-8.
    if s.is_ascii() {
        scan(s.bytes().map(char::from), indicators)
    } else {
        scan(s.chars(), indicators)
    }
}

fn scan(chars: impl Iterator<Item = char>, mut indicators: bool) -> Result<Analysis> {
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_blank = true;
    let mut chars = chars.peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let last = next.is_none();
        // libyaml's other line breaks change its line handling; left to it.
        if matches!(c, '\r' | '\u{85}' | '\u{2028}' | '\u{2029}') {
            return Err(Unsupported);
        }
        let followed_by_blank = blank_or_end(next);
        if first {
            if matches!(
                c,
                '#' | ','
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '&'
                    | '*'
                    | '!'
                    | '|'
                    | '>'
                    | '\''
                    | '"'
                    | '%'
                    | '@'
                    | '`'
            ) || (matches!(c, '?' | ':' | '-') && followed_by_blank)
            {
                indicators = true;
            }
        } else if (c == ':' && followed_by_blank) || (c == '#' && preceded_by_blank) {
            indicators = true;
        }
        if !printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            (previous_space, previous_break) = (true, false);
        } else if c == '\n' {
            line_breaks = true;
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            (previous_space, previous_break) = (false, true);
        } else {
            (previous_space, previous_break) = (false, false);
        }
        preceded_by_blank = blank_or_end(Some(c));
        first = false;
    }
    let edges = leading_space || leading_break || trailing_space || trailing_break;
    Ok(Analysis {
        multiline: line_breaks,
        block_plain: !(edges || break_space || space_break || special || line_breaks || indicators),
        single: !(break_space || space_break || special),
        block: !(trailing_space || space_break || special),
    })
}

/// `yaml_emitter_write_double_quoted_scalar` without folding. Its escapes for
/// `\r`, U+0085, U+2028 and U+2029 are not here: [`analyze`] leaves strings with
/// those to serde_yaml_ng; and U+00A0 is printable, so never escaped.
fn double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if printable(c) && !matches!(c, '\n' | '"' | '\\') {
            out.push(c);
            continue;
        }
        out.push('\\');
        match c {
            '\0' => out.push('0'),
            '\u{7}' => out.push('a'),
            '\u{8}' => out.push('b'),
            '\t' => out.push('t'),
            '\n' => out.push('n'),
            '\u{b}' => out.push('v'),
            '\u{c}' => out.push('f'),
            '\u{1b}' => out.push('e'),
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            c => {
                let v = u32::from(c);
                // Writing to a String cannot fail.
                let _ = match v {
                    0..=0xff => write!(out, "x{v:02X}"),
                    0x100..=0xffff => write!(out, "u{v:04X}"),
                    _ => write!(out, "U{v:08X}"),
                };
            }
        }
    }
    out.push('"');
}

/// `yaml_emitter_write_literal_scalar`: `|`, an indentation indicator when the
/// text starts with a space or a break, `-` when it does not end in a break, and
/// each line indented to `indent`.
fn literal(out: &mut String, s: &str, indent: usize) -> Result {
    let mut ends = s.chars().rev();
    let (last, before) = (ends.next(), ends.next());
    // Two trailing breaks (or only one) would take `|+` and, at the end of a
    // document, an explicit end marker.
    if last == Some('\n') && matches!(before, None | Some('\n')) {
        return Err(Unsupported);
    }
    out.push('|');
    if s.starts_with([' ', '\n']) {
        out.push('2');
    }
    if last != Some('\n') {
        out.push('-');
    }
    out.push('\n');
    let mut at_break = true;
    for c in s.chars() {
        if c == '\n' {
            out.push('\n');
            at_break = true;
        } else {
            if at_break {
                pad(out, indent);
            }
            out.push(c);
            at_break = false;
        }
    }
    Ok(())
}

/// A letter, then letters, digits, `_`, `.`, `/` and `-`, and not a YAML
/// keyword: plain, with nothing to analyse (no indicator, blank or break can
/// be in it, and nothing starting with a letter reads back as a number).
fn plain_word(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-'))
        && !resolves_to_non_string(s)
}

/// Whether serde_yaml_ng would read `s` back as something other than a string
/// (so writes it single-quoted): serde_yaml_ng 0.10.0 `src/de.rs`
/// `visit_untagged_scalar`, with its null, bool, int and float resolvers.
fn resolves_to_non_string(s: &str) -> bool {
    if matches!(
        s,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
    ) {
        return true;
    }
    // No int or finite float starts with a letter (Rust's float parser takes
    // `inf` and `nan`, which are not finite).
    if s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    let digits_but_not_number = digits_but_not_number(s);
    digits_but_not_number || unsigned_int(s) || negative_int(s) || float(s)
}

/// Leading zeros then digits: a string in YAML 1.2, quoted by serde_yaml_ng.
fn digits_but_not_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.len() > 1 && s.starts_with('0') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

const RADIXES: [(&str, u32); 3] = [("0x", 16), ("0o", 8), ("0b", 2)];

/// `parse_unsigned_int` at its widest type (u128 takes every u64 too).
fn unsigned_int(s: &str) -> bool {
    let unpositive = s.strip_prefix('+').unwrap_or(s);
    for (prefix, radix) in RADIXES {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return false;
            }
            if u128::from_str_radix(rest, radix).is_ok() {
                return true;
            }
        }
    }
    !unpositive.starts_with(['+', '-'])
        && !digits_but_not_number(s)
        && unpositive.parse::<u128>().is_ok()
}

/// `parse_negative_int` at its widest type.
fn negative_int(s: &str) -> bool {
    for (prefix, radix) in RADIXES {
        if let Some(rest) = s.strip_prefix('-').and_then(|r| r.strip_prefix(prefix))
            && i128::from_str_radix(&format!("-{rest}"), radix).is_ok()
        {
            return true;
        }
    }
    !digits_but_not_number(s) && s.parse::<i128>().is_ok()
}

/// `parse_f64`: the YAML spellings of infinity and NaN, and any finite float
/// Rust parses.
fn float(s: &str) -> bool {
    let unpositive = match s.strip_prefix('+') {
        Some(u) if u.starts_with(['+', '-']) => return false,
        Some(u) => u,
        None => s,
    };
    matches!(unpositive, ".inf" | ".Inf" | ".INF")
        || matches!(s, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
        || unpositive.parse::<f64>().is_ok_and(f64::is_finite)
}

macro_rules! bare_ints {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result {
            self.bare(itoa::Buffer::new().format(v))
        }
    )*};
}

impl ser::Serializer for &mut Writer {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    bare_ints!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128
    );

    fn serialize_bool(self, v: bool) -> Result {
        self.bare(if v { "true" } else { "false" })
    }

    fn serialize_f32(self, v: f32) -> Result {
        match v {
            v if v.is_nan() => self.bare(".nan"),
            v if v.is_infinite() => self.bare(if v > 0.0 { ".inf" } else { "-.inf" }),
            v => self.bare(ryu::Buffer::new().format_finite(v)),
        }
    }

    fn serialize_f64(self, v: f64) -> Result {
        match v {
            v if v.is_nan() => self.bare(".nan"),
            v if v.is_infinite() => self.bare(if v > 0.0 { ".inf" } else { "-.inf" }),
            v => self.bare(ryu::Buffer::new().format_finite(v)),
        }
    }

    fn serialize_char(self, v: char) -> Result {
        self.string(v.encode_utf8(&mut [0; 4]), Style::Single)
    }

    fn serialize_str(self, v: &str) -> Result {
        // Most strings are names: no analysis needed.
        if plain_word(v) {
            return self.bare(v);
        }
        let style = if v.contains('\n') {
            Style::Literal
        } else if resolves_to_non_string(v) {
            Style::Single
        } else {
            Style::Plain
        };
        self.string(v, style)
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result {
        Err(Unsupported)
    }

    fn serialize_none(self) -> Result {
        self.bare("null")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result {
        self.bare("null")
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.bare("null")
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result {
        value.serialize(self)
    }

    // Externally tagged enum variants carry a YAML tag: left to serde_yaml_ng.
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result {
        Err(Unsupported)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self> {
        self.open(Kind::Sequence)?;
        Ok(self)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self> {
        self.open(Kind::Sequence)?;
        Ok(self)
    }

    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self> {
        self.open(Kind::Sequence)?;
        Ok(self)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self> {
        self.open(Kind::Mapping)?;
        Ok(self)
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self> {
        self.open(Kind::Mapping)?;
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }

    // serde_yaml_ng reads a `!`-prefixed Display of a one-entry map's key as a
    // tag (`value::tagged::check_for_tag`): left to it.
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        let s = value.to_string();
        if s.starts_with('!') {
            return Err(Unsupported);
        }
        self.serialize_str(&s)
    }
}

/// The three serde traits of a sequence, each writing its elements in turn.
macro_rules! sequence {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for &mut Writer {
            type Ok = ();
            type Error = Unsupported;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                value.serialize(&mut **self)
            }

            fn end(self) -> Result {
                self.close()
            }
        }
    )*};
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for &mut Writer {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        key.serialize(&mut **self)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut **self)
    }

    fn end(self) -> Result {
        self.close()
    }
}

impl ser::SerializeStruct for &mut Writer {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        ser::Serializer::serialize_str(&mut **self, key)?;
        value.serialize(&mut **self)
    }

    fn end(self) -> Result {
        self.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_yaml_ng::{Mapping, Value};

    fn both<T: Serialize>(v: &T) -> (Option<String>, String) {
        (to_string(v), serde_yaml_ng::to_string(v).unwrap())
    }

    #[test]
    fn writes_the_block_shapes_as_serde_yaml_ng_does() {
        let doc: Value = serde_yaml_ng::from_str(
            r##"
scrape_configs:
- job_name: a
  static_configs:
  - targets: [x:1, "y:2"]
  relabel: []
  params: {}
nested:
  deeper:
    list:
    - - 1
      - 2.5
    - {}
    - []
quoted: ["", "true", "012", "0x1F", "1e5", ".inf", "- a", "a: b", "a #b", "it's", "tab	here", "é", "\u00a0x", "\ufeff", "😀", "---x"]
literal: "line one\nline two\n"
stripped: "a\n  b"
leading: " a\nb"
trailing_space: "a \nb"
"key with: colon": 1
"": empty key
"##,
        )
        .unwrap();
        let (fast, slow) = both(&doc);
        assert_eq!(fast.as_deref(), Some(slow.as_str()));
        // The bytes themselves, for the reader: the sequence under a key is not
        // indented, and each style is where serde_yaml_ng puts it.
        assert!(
            slow.starts_with(
                "scrape_configs:\n- job_name: a\n  static_configs:\n  - targets:\n    - x:1\n"
            ),
            "{slow}"
        );
        assert!(
            slow.contains("literal: |\n  line one\n  line two\n"),
            "{slow}"
        );
        assert!(slow.contains("leading: |2-\n   a\n  b\n"), "{slow}");
        assert!(slow.contains("trailing_space: \"a \\nb\"\n"), "{slow}");
    }

    #[test]
    fn leaves_the_shapes_it_does_not_write_to_serde_yaml_ng() {
        let long_key = "k".repeat(129);
        let cases: Vec<Value> = vec![
            Value::String("a scalar at the root".into()),
            serde_yaml_ng::from_str(&format!("{long_key}: 1")).unwrap(),
            serde_yaml_ng::from_str("\"two\\nlines\": 1").unwrap(),
            serde_yaml_ng::from_str("k: \"keep\\n\\n\"").unwrap(),
            serde_yaml_ng::from_str("k: \"carriage\\rreturn\"").unwrap(),
            serde_yaml_ng::from_str("k: !tagged 1").unwrap(),
            serde_yaml_ng::from_str("? [a]\n: 1").unwrap(),
        ];
        for case in cases {
            assert_eq!(to_string(&case), None, "{case:?}");
        }
    }

    /// Strings built from the characters that change a scalar's style: YAML
    /// indicators, blanks, `\n`, quotes, non-printable and non-BMP characters,
    /// and whole words that resolve to other types.
    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            prop::sample::select(vec![
                "a",
                "Z",
                "0",
                "1",
                "9",
                " ",
                "  ",
                "\n",
                "\t",
                ":",
                ": ",
                "#",
                " #",
                "-",
                "- ",
                "'",
                "\"",
                "\\",
                "?",
                ",",
                "[",
                "]",
                "{",
                "}",
                "&",
                "*",
                "!",
                "|",
                ">",
                "%",
                "@",
                "`",
                ".",
                "+",
                "e",
                "x",
                "_",
                "/",
                "é",
                "\u{a0}",
                "\u{feff}",
                "\u{1f600}",
                "\u{7f}",
                "\u{80}",
                "\u{0}",
                "\u{1b}",
                "\u{fffe}",
                "\u{d7ff}",
                "\u{e000}",
            ])
            .prop_map(str::to_owned),
            prop::sample::select(vec![
                "true",
                "False",
                "null",
                "~",
                "NULL",
                "0x1F",
                "-0x1f",
                "0o17",
                "0b101",
                "012",
                "-012",
                "+12",
                "1e5",
                "1.5",
                "-2.5e-3",
                ".inf",
                "-.Inf",
                ".NaN",
                "inf",
                "nan",
                "---",
                "...",
                "0x",
                "+-1",
                "340282366920938463463374607431768211456",
                "-170141183460469231731687303715884105729",
            ])
            .prop_map(str::to_owned),
        ];
        prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
    }

    fn key() -> impl Strategy<Value = String> {
        text().prop_map(|k| k.replace('\n', ""))
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => text().prop_map(Value::String),
            1 => any::<i64>().prop_map(|i| Value::Number(i.into())),
            1 => any::<u64>().prop_map(|u| Value::Number(u.into())),
            1 => any::<f64>().prop_map(|f| Value::Number(f.into())),
            1 => any::<bool>().prop_map(Value::Bool),
            1 => Just(Value::Null),
        ]
    }

    fn document() -> impl Strategy<Value = Value> {
        let tree = scalar().prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Sequence),
                prop::collection::vec((key(), inner), 0..5).prop_map(|kv| Value::Mapping(
                    kv.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
                )),
            ]
        });
        prop_oneof![
            prop::collection::vec(tree.clone(), 0..5).prop_map(Value::Sequence),
            prop::collection::vec((key(), tree), 0..6).prop_map(|kv| Value::Mapping(
                kv.into_iter()
                    .map(|(k, v)| (Value::String(k), v))
                    .collect::<Mapping>()
            )),
        ]
    }

    /// The two reasons left for a generated document (keys on one line, no
    /// other line breaks) to go to serde_yaml_ng: a key of more than 128 bytes,
    /// or a literal block that would keep its trailing line breaks.
    fn left_to_serde_yaml_ng(v: &Value) -> bool {
        match v {
            Value::String(s) => {
                let block = analyze(s).is_ok_and(|a| a.block);
                block && (s == "\n" || s.ends_with("\n\n"))
            }
            Value::Sequence(items) => items.iter().any(left_to_serde_yaml_ng),
            Value::Mapping(m) => m.iter().any(|(k, v)| {
                k.as_str().is_some_and(|k| k.len() > 128) || left_to_serde_yaml_ng(v)
            }),
            _ => false,
        }
    }

    /// Every config file of the samples, and of a stack overriding four
    /// components' configs, is written here rather than by serde_yaml_ng (and,
    /// being a debug build, compared with serde_yaml_ng's bytes by `to_yaml`).
    #[test]
    fn every_config_of_the_samples_takes_the_fast_path() {
        use crate::validate::{Dereferenced, validate};
        let root = env!("CARGO_MANIFEST_DIR");
        let mut stacks = Vec::new();
        for name in ["minimal", "agent-fleet", "production"] {
            let path = format!("{root}/config/samples/{name}.yaml");
            let text = std::fs::read_to_string(&path).unwrap();
            stacks.push(crate::cli::parse(&path, &text).unwrap());
        }
        let overridden = "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {name: o, namespace: n}\nspec:\n  collector:\n    configOverrides:\n      processors: {batch: {send_batch_size: 4096}}\n  loki:\n    configOverrides:\n      limits_config: {ingestion_rate_mb: 64}\n  tempo:\n    configOverrides:\n      server: {log_level: debug}\n  prometheus:\n    configOverrides:\n      global: {scrape_timeout: 5s}\n";
        stacks.push(crate::cli::parse("overridden", overridden).unwrap());
        for stack in &stacks {
            let valid = validate(stack, &Dereferenced::offline()).unwrap();
            crate::render::YAML_CALLS.with(|c| c.set((0, 0)));
            let built = crate::build::build(&valid, &crate::model::Capabilities::current());
            let (calls, slow) = crate::render::YAML_CALLS.with(|c| c.get());
            let name = stack.metadata.name.as_deref().unwrap_or_default();
            assert!(calls >= 8, "{name}: only {calls} config files rendered");
            assert_eq!(
                slow, 0,
                "{name}: {slow} of {calls} config files went to serde_yaml_ng"
            );
            assert!(!built.config_maps.is_empty());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_document_is_written_byte_for_byte_as_serde_yaml_ng_writes_it(doc in document()) {
            let (fast, slow) = both(&doc);
            match fast {
                Some(fast) => prop_assert_eq!(fast, slow),
                None => prop_assert!(left_to_serde_yaml_ng(&doc), "left to serde_yaml_ng: {slow}"),
            }
        }

        #[test]
        fn any_string_value_or_key_is_quoted_as_serde_yaml_ng_quotes_it(s in text()) {
            let mut m = Mapping::new();
            m.insert(Value::String(s.replace('\n', "")), Value::String(s.clone()));
            let doc = Value::Sequence(vec![Value::String(s), Value::Mapping(m)]);
            let (fast, slow) = both(&doc);
            if let Some(fast) = fast {
                prop_assert_eq!(fast, slow);
            } else {
                prop_assert!(left_to_serde_yaml_ng(&doc));
            }
        }
    }
}
