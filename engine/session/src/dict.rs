//! Data-dictionary validation of application messages (FIX.4.2 and FIX.4.4, or any QuickFIX-format
//! dictionary file).
//!
//! The standard dictionaries are QuickFIX's `FIX42.xml` / `FIX44.xml` as shipped in the `fefix`
//! 0.7 crate (`engine/session/dict/`, see its README for provenance); nothing is typed by hand.
//! [`DataDictionary::validate`] checks one message and returns the first violation with its
//! SessionRejectReason(373) and RefTagID(371). It does not allocate.

use std::collections::HashMap;
use std::path::Path;

use crate::time::parse_timestamp;
use crate::wire::Fields;

/// The FIX.4.2 dictionary text.
pub const FIX42_XML: &str = include_str!("../dict/FIX42.xml");
/// The FIX.4.4 dictionary text.
pub const FIX44_XML: &str = include_str!("../dict/FIX44.xml");

/// Value type of a field, as far as validation distinguishes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VType {
    Int,
    Float,
    Char,
    Bool,
    Timestamp,
    Date,
    Time,
    MonthYear,
    MultiValue,
    Any,
}

#[derive(Debug)]
struct FieldDef {
    vtype: VType,
    /// Allowed values (sorted), empty = any.
    values: Vec<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Layout {
    /// Tag -> index into `groups` + 1, or 0 for a plain field.
    members: HashMap<u32, usize>,
    required: Vec<u32>,
    groups: Vec<GroupDef>,
}

#[derive(Debug)]
struct GroupDef {
    delim: u32,
    layout: Layout,
}

/// A violation found by [`DataDictionary::validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    /// SessionRejectReason(373).
    pub reason: u32,
    /// RefTagID(371) (0 when none applies).
    pub tag: u32,
    /// The standard text of the reason.
    pub text: &'static str,
}

impl Violation {
    fn new(reason: u32, tag: u32) -> Self {
        let text = match reason {
            0 => "Invalid tag number",
            1 => "Required tag missing",
            2 => "Tag not defined for this message type",
            4 => "Tag specified without a value",
            5 => "Value is incorrect (out of range) for this tag",
            6 => "Incorrect data format for value",
            11 => "Invalid MsgType",
            13 => "Tag appears more than once",
            14 => "Tag specified out of required order",
            15 => "Repeating group fields out of order",
            16 => "Incorrect NumInGroup count for repeating group",
            _ => "Invalid message",
        };
        Violation { reason, tag, text }
    }
}

/// Why a dictionary could not be loaded.
#[derive(Debug)]
pub struct DictError(pub String);

impl std::fmt::Display for DictError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "data dictionary: {}", self.0)
    }
}

impl std::error::Error for DictError {}

/// A FIX data dictionary.
#[derive(Debug)]
pub struct DataDictionary {
    begin_string: String,
    fields: HashMap<u32, FieldDef>,
    header: Layout,
    trailer: Layout,
    messages: HashMap<Vec<u8>, Layout>,
    /// Check user-defined tags (5000-9999) too (`ValidateUserDefinedFields`).
    pub validate_user_defined_fields: bool,
}

// ---------------------------------------------------------------- a minimal XML reader

#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<usize>,
}

impl Node {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the element structure of a well-formed XML document (attributes, nesting; text,
/// comments, declarations and doctype are skipped). Node 0 is a synthetic root.
fn parse_xml(text: &str) -> Result<Vec<Node>, DictError> {
    let b = text.as_bytes();
    let mut nodes = vec![Node::default()];
    let mut stack = vec![0usize];
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        i += off;
        if b[i..].starts_with(b"<!--") {
            let end = text[i..]
                .find("-->")
                .ok_or_else(|| DictError("unterminated comment".into()))?;
            i += end + 3;
            continue;
        }
        let end = b[i..]
            .iter()
            .position(|&c| c == b'>')
            .ok_or_else(|| DictError(format!("unterminated tag at byte {i}")))?;
        let tag = &text[i + 1..i + end];
        i += end + 1;
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack
                .pop()
                .ok_or_else(|| DictError(format!("unbalanced </{name}>")))?;
            if nodes[top].name != name.trim() || stack.is_empty() {
                return Err(DictError(format!(
                    "</{}> closes <{}>",
                    name.trim(),
                    nodes[top].name
                )));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let mut parts = tag.splitn(2, char::is_whitespace);
        let name = parts.next().unwrap_or("").to_string();
        let mut attrs = Vec::new();
        let mut rest = parts.next().unwrap_or("").trim();
        while !rest.is_empty() {
            let eq = rest
                .find('=')
                .ok_or_else(|| DictError(format!("bad attribute in <{name}>")))?;
            let key = rest[..eq].trim().to_string();
            let after = rest[eq + 1..].trim_start();
            let q = after
                .chars()
                .next()
                .filter(|c| *c == '\'' || *c == '"')
                .ok_or_else(|| DictError(format!("unquoted attribute {key} in <{name}>")))?;
            let close = after[1..]
                .find(q)
                .ok_or_else(|| DictError(format!("unterminated attribute {key} in <{name}>")))?;
            let val = after[1..1 + close]
                .replace("&apos;", "'")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            attrs.push((key, val));
            rest = after[close + 2..].trim_start();
        }
        let id = nodes.len();
        nodes.push(Node {
            name,
            attrs,
            children: Vec::new(),
        });
        let parent = *stack.last().unwrap_or(&0);
        nodes[parent].children.push(id);
        if !self_closing {
            stack.push(id);
        }
    }
    if stack.len() != 1 {
        return Err(DictError("unclosed element at end of file".into()));
    }
    Ok(nodes)
}

fn vtype(t: &str) -> VType {
    match t {
        "INT" | "LENGTH" | "NUMINGROUP" | "SEQNUM" | "TAGNUM" | "DAYOFMONTH" => VType::Int,
        "FLOAT" | "QTY" | "PRICE" | "PRICEOFFSET" | "AMT" | "PERCENTAGE" => VType::Float,
        "CHAR" => VType::Char,
        "BOOLEAN" => VType::Bool,
        "UTCTIMESTAMP" | "TZTIMESTAMP" => VType::Timestamp,
        "UTCDATE" | "UTCDATEONLY" | "LOCALMKTDATE" | "DATE" => VType::Date,
        "UTCTIMEONLY" | "TIME" => VType::Time,
        "MONTHYEAR" => VType::MonthYear,
        "MULTIPLEVALUESTRING" | "MULTIPLECHARVALUE" | "MULTIPLESTRINGVALUE" => VType::MultiValue,
        _ => VType::Any,
    }
}

struct Builder<'a> {
    nodes: &'a [Node],
    names: HashMap<&'a str, u32>,
    components: HashMap<&'a str, usize>,
}

impl<'a> Builder<'a> {
    fn child(&self, parent: usize, name: &str) -> Option<usize> {
        self.nodes[parent]
            .children
            .iter()
            .copied()
            .find(|&c| self.nodes[c].name == name)
    }

    fn tag_of(&self, name: &str) -> Result<u32, DictError> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| DictError(format!("field `{name}` used but not defined")))
    }

    /// Adds the members of element `n` (field / group / component children) to `layout`.
    fn fill(&self, n: usize, layout: &mut Layout, depth: u32) -> Result<(), DictError> {
        if depth > 32 {
            return Err(DictError("components nested too deeply (cycle?)".into()));
        }
        for &c in &self.nodes[n].children {
            let node = &self.nodes[c];
            let name = node.attr("name").unwrap_or("");
            let required = node.attr("required") == Some("Y");
            match node.name.as_str() {
                "field" => {
                    let tag = self.tag_of(name)?;
                    layout.members.insert(tag, 0);
                    if required {
                        layout.required.push(tag);
                    }
                }
                "group" => {
                    let tag = self.tag_of(name)?;
                    let mut g = Layout::default();
                    self.fill(c, &mut g, depth + 1)?;
                    let first = node
                        .children
                        .first()
                        .ok_or_else(|| DictError(format!("group `{name}` is empty")))?;
                    let delim = self.first_field(*first, depth + 1)?;
                    layout.groups.push(GroupDef { delim, layout: g });
                    layout.members.insert(tag, layout.groups.len());
                    if required {
                        layout.required.push(tag);
                    }
                }
                "component" => {
                    let def = *self
                        .components
                        .get(name)
                        .ok_or_else(|| DictError(format!("component `{name}` not defined")))?;
                    let mut sub = Layout::default();
                    self.fill(def, &mut sub, depth + 1)?;
                    let base = layout.groups.len();
                    for (t, g) in sub.members {
                        layout.members.insert(t, if g == 0 { 0 } else { g + base });
                    }
                    layout.groups.extend(sub.groups);
                    if required {
                        layout.required.extend(sub.required);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The first field of element `n` (a group's delimiter).
    fn first_field(&self, n: usize, depth: u32) -> Result<u32, DictError> {
        if depth > 32 {
            return Err(DictError("components nested too deeply (cycle?)".into()));
        }
        let node = &self.nodes[n];
        let name = node.attr("name").unwrap_or("");
        match node.name.as_str() {
            "field" | "group" => self.tag_of(name),
            "component" => {
                let def = *self
                    .components
                    .get(name)
                    .ok_or_else(|| DictError(format!("component `{name}` not defined")))?;
                let first = self.nodes[def]
                    .children
                    .first()
                    .ok_or_else(|| DictError(format!("component `{name}` is empty")))?;
                self.first_field(*first, depth + 1)
            }
            other => Err(DictError(format!("unexpected <{other}> in a group"))),
        }
    }
}

/// Up to 16384 tags tracked for "appears more than once" and "required"; higher tags are only
/// type-checked.
const SEEN_BITS: usize = 16384;

struct Seen([u64; SEEN_BITS / 64]);

impl Seen {
    fn insert(&mut self, tag: u32) -> bool {
        let t = tag as usize;
        if t >= SEEN_BITS {
            return true;
        }
        let (w, b) = (t / 64, 1u64 << (t % 64));
        let fresh = self.0[w] & b == 0;
        self.0[w] |= b;
        fresh
    }
    fn has(&self, tag: u32) -> bool {
        let t = tag as usize;
        t >= SEEN_BITS || self.0[t / 64] & (1u64 << (t % 64)) != 0
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Header,
    Body,
    Trailer,
}

impl DataDictionary {
    /// The standard FIX.4.2 dictionary.
    pub fn fix42() -> Self {
        Self::from_quickfix_xml(FIX42_XML).expect("the shipped FIX42.xml parses")
    }

    /// The standard FIX.4.4 dictionary.
    pub fn fix44() -> Self {
        Self::from_quickfix_xml(FIX44_XML).expect("the shipped FIX44.xml parses")
    }

    /// The shipped dictionary for `begin_string` (FIX.4.2, FIX.4.4), if any.
    pub fn standard(begin_string: &str) -> Option<Self> {
        match begin_string {
            "FIX.4.2" => Some(Self::fix42()),
            "FIX.4.4" => Some(Self::fix44()),
            _ => None,
        }
    }

    /// Loads a QuickFIX-format dictionary file.
    pub fn load(path: &Path) -> Result<Self, DictError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| DictError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_quickfix_xml(&text)
            .map_err(|e| DictError(format!("{}: {}", path.display(), e.0)))
    }

    /// Parses a QuickFIX-format dictionary (`<fix major minor>` with header, trailer, messages,
    /// components and fields).
    pub fn from_quickfix_xml(text: &str) -> Result<Self, DictError> {
        let nodes = parse_xml(text)?;
        let fix = nodes[0]
            .children
            .iter()
            .copied()
            .find(|&c| nodes[c].name == "fix")
            .ok_or_else(|| DictError("no <fix> element".into()))?;
        let begin_string = format!(
            "{}.{}.{}",
            nodes[fix].attr("type").unwrap_or("FIX"),
            nodes[fix].attr("major").unwrap_or("?"),
            nodes[fix].attr("minor").unwrap_or("?")
        );
        let mut b = Builder {
            nodes: &nodes,
            names: HashMap::new(),
            components: HashMap::new(),
        };
        let mut fields = HashMap::new();
        if let Some(fs) = b.child(fix, "fields") {
            for &f in &nodes[fs].children {
                let n = &nodes[f];
                let (Some(num), Some(name)) = (n.attr("number"), n.attr("name")) else {
                    return Err(DictError("<field> without number or name".into()));
                };
                let tag: u32 = num
                    .parse()
                    .map_err(|_| DictError(format!("field `{name}`: bad number `{num}`")))?;
                let mut values: Vec<Vec<u8>> = n
                    .children
                    .iter()
                    .filter_map(|&v| nodes[v].attr("enum"))
                    .map(|e| e.as_bytes().to_vec())
                    .collect();
                values.sort();
                b.names.insert(name, tag);
                fields.insert(
                    tag,
                    FieldDef {
                        vtype: vtype(n.attr("type").unwrap_or("STRING")),
                        values,
                    },
                );
            }
        }
        if let Some(cs) = b.child(fix, "components") {
            for &c in &nodes[cs].children {
                if let Some(name) = nodes[c].attr("name") {
                    b.components.insert(name, c);
                }
            }
        }
        let mut header = Layout::default();
        if let Some(h) = b.child(fix, "header") {
            b.fill(h, &mut header, 0)?;
        }
        let mut trailer = Layout::default();
        if let Some(t) = b.child(fix, "trailer") {
            b.fill(t, &mut trailer, 0)?;
        }
        let mut messages = HashMap::new();
        if let Some(ms) = b.child(fix, "messages") {
            for &m in &nodes[ms].children {
                let Some(t) = nodes[m].attr("msgtype") else {
                    continue;
                };
                let mut l = Layout::default();
                b.fill(m, &mut l, 0)?;
                messages.insert(t.as_bytes().to_vec(), l);
            }
        }
        Ok(DataDictionary {
            begin_string,
            fields,
            header,
            trailer,
            messages,
            validate_user_defined_fields: false,
        })
    }

    /// BeginString of the dictionary (e.g. `FIX.4.4`).
    pub fn begin_string(&self) -> &str {
        &self.begin_string
    }

    /// True if `msg_type` is defined.
    pub fn has_msg_type(&self, msg_type: &[u8]) -> bool {
        self.messages.contains_key(msg_type)
    }

    fn check_value(&self, tag: u32, v: &[u8]) -> Result<bool, Violation> {
        if v.is_empty() {
            return Err(Violation::new(4, tag));
        }
        let Some(def) = self.fields.get(&tag) else {
            if tag >= 5000 && !self.validate_user_defined_fields {
                return Ok(false);
            }
            return Err(Violation::new(0, tag));
        };
        let ok = match def.vtype {
            VType::Int => {
                let d = v.strip_prefix(b"-").unwrap_or(v);
                !d.is_empty() && d.iter().all(u8::is_ascii_digit)
            }
            VType::Float => is_decimal(v),
            VType::Char => v.len() == 1,
            VType::Bool => v == b"Y" || v == b"N",
            VType::Timestamp => parse_timestamp(v).is_some(),
            VType::Date => v.len() == 8 && v.iter().all(u8::is_ascii_digit),
            VType::Time => is_time(v),
            VType::MonthYear => {
                v.len() >= 6 && v[..6].iter().all(u8::is_ascii_digit) && v.len() <= 8
            }
            VType::MultiValue | VType::Any => true,
        };
        if !ok {
            return Err(Violation::new(6, tag));
        }
        if !def.values.is_empty() {
            let valid = if def.vtype == VType::MultiValue {
                v.split(|&c| c == b' ')
                    .filter(|p| !p.is_empty())
                    .all(|p| def.values.binary_search_by(|x| x.as_slice().cmp(p)).is_ok())
            } else {
                def.values.binary_search_by(|x| x.as_slice().cmp(v)).is_ok()
            };
            if !valid {
                return Err(Violation::new(5, tag));
            }
        }
        Ok(true)
    }

    /// Validates one application message. `Ok` or the first violation.
    pub fn validate(&self, msg: &[u8]) -> Result<(), Violation> {
        let msg_type = crate::wire::find(msg, 35).unwrap_or(b"");
        let Some(layout) = self.messages.get(msg_type) else {
            return Err(Violation::new(11, 35));
        };
        let mut seen = Seen([0; SEEN_BITS / 64]);
        let mut it = Fields::new(msg).peekable();
        let mut section = Section::Header;
        while let Some((tag, v)) = it.next() {
            if tag == 0 {
                return Err(Violation::new(0, 0));
            }
            if tag == 10 {
                // CheckSum: framed by the sequencer; must be last (it is, by framing).
                break;
            }
            self.check_value(tag, v)?;
            let in_header = self.header.members.contains_key(&tag);
            let in_trailer = !in_header && self.trailer.members.contains_key(&tag);
            let (sec, lay) = if in_header {
                (Section::Header, &self.header)
            } else if in_trailer {
                (Section::Trailer, &self.trailer)
            } else {
                (Section::Body, layout)
            };
            if sec < section {
                return Err(Violation::new(14, tag));
            }
            section = sec;
            if !seen.insert(tag) {
                return Err(Violation::new(13, tag));
            }
            match lay.members.get(&tag) {
                None => {
                    if self.fields.contains_key(&tag) {
                        return Err(Violation::new(2, tag));
                    }
                    // A user-defined field not validated: accepted.
                }
                Some(0) => {}
                Some(&g) => {
                    self.check_group(tag, v, &lay.groups[g - 1], &mut it, 0)?;
                }
            }
        }
        for l in [&self.header, layout, &self.trailer] {
            for &t in &l.required {
                if t != 10 && !seen.has(t) {
                    return Err(Violation::new(1, t));
                }
            }
        }
        Ok(())
    }

    /// The entries of a repeating group whose NumInGroup field `count_tag=v` was just read.
    fn check_group<'m, I: Iterator<Item = (u32, &'m [u8])>>(
        &self,
        count_tag: u32,
        v: &[u8],
        g: &GroupDef,
        it: &mut std::iter::Peekable<I>,
        depth: u32,
    ) -> Result<(), Violation> {
        let declared: u32 = crate::wire::parse_u32(v).ok_or(Violation::new(6, count_tag))?;
        if depth > 16 {
            return Err(Violation::new(16, count_tag));
        }
        let mut entries = 0u32;
        // Tags seen in the current entry (a tag repeated inside one entry starts no new entry).
        let mut entry_seen = Seen([0; SEEN_BITS / 64]);
        while let Some(&(tag, val)) = it.peek() {
            if tag == g.delim {
                if entries > 0 {
                    Self::entry_complete(g, &entry_seen)?;
                }
                entries += 1;
                entry_seen = Seen([0; SEEN_BITS / 64]);
            } else if !g.layout.members.contains_key(&tag) {
                break;
            } else if entries == 0 {
                return Err(Violation::new(15, tag));
            }
            it.next();
            self.check_value(tag, val)?;
            if !entry_seen.insert(tag) {
                return Err(Violation::new(13, tag));
            }
            if let Some(&gi) = g.layout.members.get(&tag) {
                if gi > 0 {
                    self.check_group(tag, val, &g.layout.groups[gi - 1], it, depth + 1)?;
                }
            }
        }
        if entries > 0 {
            Self::entry_complete(g, &entry_seen)?;
        }
        if entries != declared {
            return Err(Violation::new(16, count_tag));
        }
        Ok(())
    }

    /// Every field the group's entries require (its own and its required components') is in the
    /// entry just read: else Reject 373=1 with the missing tag as RefTagID.
    fn entry_complete(g: &GroupDef, entry_seen: &Seen) -> Result<(), Violation> {
        match g.layout.required.iter().find(|&&t| !entry_seen.has(t)) {
            Some(&t) => Err(Violation::new(1, t)),
            None => Ok(()),
        }
    }
}

fn is_decimal(v: &[u8]) -> bool {
    let d = v.strip_prefix(b"-").unwrap_or(v);
    let mut digits = 0;
    let mut dots = 0;
    for &c in d {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return false,
        }
    }
    digits > 0 && dots <= 1
}

fn is_time(v: &[u8]) -> bool {
    if v.len() < 8 || v[2] != b':' || v[5] != b':' {
        return false;
    }
    let d = |r: std::ops::Range<usize>| v[r].iter().all(u8::is_ascii_digit);
    d(0..2)
        && d(3..5)
        && d(6..8)
        && (v.len() == 8 || (v[8] == b'.' && v.len() > 9 && d(9..v.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &str) -> Vec<u8> {
        let body = body.replace('|', "\x01");
        let mut m = format!("8=FIX.4.4\x019={}\x01{}", body.len(), body).into_bytes();
        let sum: u32 = m.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
        m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        m
    }

    const HDR: &str = "49=A|56=B|34=2|52=20240101-00:00:00.000|";

    #[test]
    fn standard_dictionaries_load() {
        let d = DataDictionary::fix44();
        assert_eq!(d.begin_string(), "FIX.4.4");
        assert!(d.has_msg_type(b"D") && d.has_msg_type(b"AE") && !d.has_msg_type(b"ZZ"));
        let d = DataDictionary::fix42();
        assert_eq!(d.begin_string(), "FIX.4.2");
        assert!(d.has_msg_type(b"D") && !d.has_msg_type(b"AE"));
    }

    #[test]
    fn each_violation_is_found() {
        let d = DataDictionary::fix44();
        let nos = "11=a|55=X|54=1|60=20240101-00:00:00|40=2|44=1.5|38=100|";
        let ok = msg(&format!("35=D|{HDR}{nos}"));
        assert_eq!(d.validate(&ok), Ok(()));
        let cases: &[(&str, u32, u32)] = &[
            (
                "11=a|55=X|54=1|60=20240101-00:00:00|40=2|38=100|4999=x|",
                0,
                4999,
            ),
            ("11=a|55=X|60=20240101-00:00:00|40=2|38=100|", 1, 54),
            (
                "11=a|55=X|54=1|60=20240101-00:00:00|40=2|38=100|112=t|",
                2,
                112,
            ),
            ("11=a|55=X|54=|60=20240101-00:00:00|40=2|38=100|", 4, 54),
            ("11=a|55=X|54=Q|60=20240101-00:00:00|40=2|38=100|", 5, 54),
            ("11=a|55=X|54=1|60=20240101-00:00:00|40=2|38=1x0|", 6, 38),
            (
                "11=a|55=X|54=1|60=20240101-00:00:00|40=2|38=100|38=100|",
                13,
                38,
            ),
            (
                "11=a|55=X|54=1|60=20240101-00:00:00|40=2|38=100|115=Z|",
                14,
                115,
            ),
            (
                "11=a|55=X|54=1|60=20240101-00:00:00|40=2|38=100|78=2|79=acct1|80=5|",
                16,
                78,
            ),
        ];
        for (body, reason, tag) in cases {
            let m = msg(&format!("35=D|{HDR}{body}"));
            let v = d.validate(&m).expect_err(body);
            assert_eq!((v.reason, v.tag), (*reason, *tag), "{body}: {v:?}");
        }
        // A correct repeating group and a user-defined tag pass.
        let m = msg(&format!(
            "35=D|{HDR}{nos}78=2|79=acct1|80=5|79=acct2|80=6|5001=custom|"
        ));
        assert_eq!(d.validate(&m), Ok(()));
        // Unknown MsgType.
        let v = d.validate(&msg(&format!("35=ZZ|{HDR}"))).unwrap_err();
        assert_eq!(v.reason, 11);
    }

    #[test]
    fn required_fields_inside_repeating_groups_are_checked() {
        // NewOrderList: each NoOrders entry requires ListSeqNo(67) and Side(54) besides its
        // delimiter ClOrdID(11).
        let d = DataDictionary::fix44();
        let head = format!("35=E|{HDR}66=L1|394=1|68=2|73=2|");
        let ok = msg(&format!("{head}11=a|67=1|54=1|11=b|67=2|54=2|"));
        assert_eq!(d.validate(&ok), Ok(()));
        for (entries, tag) in [
            ("11=a|54=1|11=b|67=2|54=2|", 67), // first entry lacks ListSeqNo
            ("11=a|67=1|54=1|11=b|67=2|", 54), // last entry lacks Side
            ("11=a|67=1|11=b|67=2|54=2|", 54),
        ] {
            let v = d.validate(&msg(&format!("{head}{entries}"))).unwrap_err();
            assert_eq!((v.reason, v.tag), (1, tag), "{entries}");
            assert_eq!(v.text, "Required tag missing");
        }
        // Nested groups: a required field of an inner entry (own dictionary).
        let xml = "<fix major='4' minor='4'><header><field name='BeginString' required='Y'/>\
            <field name='BodyLength' required='Y'/><field name='MsgType' required='Y'/></header>\
            <trailer><field name='CheckSum' required='Y'/></trailer><messages>\
            <message name='X' msgtype='U1'><group name='NoA' required='Y'>\
            <field name='A1' required='Y'/><field name='A2' required='Y'/>\
            <group name='NoB' required='N'><field name='B1' required='Y'/>\
            <field name='B2' required='Y'/></group></group></message></messages>\
            <components/><fields><field number='8' name='BeginString' type='STRING'/>\
            <field number='9' name='BodyLength' type='LENGTH'/><field number='35' name='MsgType' type='STRING'/>\
            <field number='10' name='CheckSum' type='STRING'/><field number='9001' name='NoA' type='NUMINGROUP'/>\
            <field number='9002' name='A1' type='STRING'/><field number='9003' name='A2' type='STRING'/>\
            <field number='9004' name='NoB' type='NUMINGROUP'/><field number='9005' name='B1' type='STRING'/>\
            <field number='9006' name='B2' type='STRING'/></fields></fix>";
        let d = DataDictionary::from_quickfix_xml(xml).unwrap();
        let ok = msg("35=U1|9001=1|9002=a|9003=b|9004=2|9005=x|9006=y|9005=z|9006=w|");
        assert_eq!(d.validate(&ok), Ok(()));
        let v = d
            .validate(&msg(
                "35=U1|9001=1|9002=a|9003=b|9004=2|9005=x|9006=y|9005=z|",
            ))
            .unwrap_err();
        assert_eq!((v.reason, v.tag), (1, 9006));
        let v = d
            .validate(&msg("35=U1|9001=1|9002=a|9004=1|9005=x|9006=y|"))
            .unwrap_err();
        assert_eq!((v.reason, v.tag), (1, 9003));
    }

    #[test]
    fn bad_xml_is_an_error_not_a_panic() {
        for bad in [
            "",
            "<fix>",
            "<fix><fields><field name='x'/></fields></fix>",
            "<a></b>",
            "<fix a=b>",
        ] {
            let _ = DataDictionary::from_quickfix_xml(bad);
        }
        assert!(DataDictionary::from_quickfix_xml("<a></b>").is_err());
        assert!(DataDictionary::from_quickfix_xml("<fix><messages><message msgtype='D'><field name='Nope' required='Y'/></message></messages></fix>").is_err());
    }
}
