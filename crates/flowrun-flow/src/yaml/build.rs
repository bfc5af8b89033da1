//! Turns saphyr-parser's events into a [`Node`] tree, iteratively, within [`Limits`].

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Tag};

use super::scalar::resolve_plain;
use super::{Key, Node, NodeValue, Pos, Span};

/// Budgets that keep hostile input from hanging the parser or exhausting memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of lists and mappings.
    pub max_depth: usize,
    /// Most nodes that alias expansion may copy in one file (stops "billion laughs").
    pub max_alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_alias_nodes: 100_000,
        }
    }
}

/// A problem found while reading YAML. `fatal` problems leave no tree.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct YamlError {
    pub kind: YamlErrorKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum YamlErrorKind {
    #[error("invalid YAML: {0}")]
    Syntax(String),
    #[error("the file is not valid UTF-8")]
    InvalidUtf8,
    #[error("duplicate key `{key}` (first defined on line {first_line})")]
    DuplicateKey { key: String, first_line: usize },
    #[error("nesting deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("aliases expand to more than {limit} nodes")]
    AliasBudget { limit: usize },
    #[error("unknown alias: no anchor defined before it")]
    UnknownAlias,
    #[error("a flow file holds one YAML document, found a second one")]
    MultipleDocuments,
    #[error("mapping keys must be plain strings, found {found}")]
    ComplexKey { found: &'static str },
    #[error("unsupported tag `{tag}`")]
    UnsupportedTag { tag: String },
    #[error("unquoted template `{text}`: YAML reads `{{{{ … }}}}` as a mapping")]
    UnquotedTemplate { text: String },
}

/// The tree of a YAML text (None when a fatal error stopped the parse, or the text is empty)
/// and every problem found. A leading BOM is skipped and not counted in columns.
pub fn parse(text: &str, limits: Limits) -> (Option<Node>, Vec<YamlError>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder {
        source: Source {
            text,
            cursor: Cell::new((0, 0)),
        },
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        root: None,
        documents: 0,
        errors: Vec::new(),
    };
    for event in Parser::new_from_str(text) {
        let step = match event {
            Ok((event, span)) => builder.event(event, to_span(span.start, span.end)),
            Err(error) => Err(scan_error(&error, limits)),
        };
        if let Err(error) = step {
            // `url: {{ x }}/orders` is one mistake: the unquoted template already says how to fix it.
            let after_template = builder.errors.last().is_some_and(|last| {
                matches!(last.kind, YamlErrorKind::UnquotedTemplate { .. })
                    && last.span.start.line == error.span.start.line
            });
            if !after_template {
                builder.errors.push(error);
            }
            builder.errors.sort_by_key(|error| error.span.start);
            return (None, builder.errors);
        }
    }
    (builder.root, builder.errors)
}

/// Decodes a file's bytes, reporting the line and column of the first invalid byte.
pub fn decode(bytes: &[u8]) -> Result<&str, YamlError> {
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default();
        let valid = valid.strip_prefix('\u{feff}').unwrap_or(valid);
        let line = valid.matches('\n').count() + 1;
        let line_start = valid.rfind('\n').map_or(0, |at| at + 1);
        let column = valid[line_start..].chars().count() + 1;
        let offset = valid.chars().count();
        let pos = Pos { line, column, offset };
        YamlError {
            kind: YamlErrorKind::InvalidUtf8,
            span: Span {
                start: pos,
                end: Pos {
                    column: column + 1,
                    offset: offset + 1,
                    ..pos
                },
            },
        }
    })
}

fn to_pos(marker: Marker) -> Pos {
    Pos {
        line: marker.line(),
        column: marker.col() + 1,
        offset: marker.index(),
    }
}

fn to_span(start: Marker, end: Marker) -> Span {
    Span {
        start: to_pos(start),
        end: to_pos(end),
    }
}

fn scan_error(error: &ScanError, limits: Limits) -> YamlError {
    let pos = to_pos(*error.marker());
    // The parser has its own nesting limit, above ours; both mean the same to a user.
    let kind = if error.info().contains("recursion limit") {
        YamlErrorKind::TooDeep {
            limit: limits.max_depth,
        }
    } else {
        YamlErrorKind::Syntax(error.info().to_owned())
    };
    YamlError {
        kind,
        span: Span::point(pos),
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        start: Span,
        anchor: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        start: Span,
        anchor: usize,
        key: Option<PendingKey>,
        merges: Vec<Node>,
        has_complex_key: bool,
    },
}

enum PendingKey {
    Key(Key),
    /// A key that is not a plain scalar: kept only to report it.
    Complex(Node),
    /// The YAML merge key `<<`.
    Merge,
}

struct Builder<'text> {
    source: Source<'text>,
    limits: Limits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
    root: Option<Node>,
    documents: usize,
    errors: Vec<YamlError>,
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    self.errors.push(YamlError {
                        kind: YamlErrorKind::MultipleDocuments,
                        span,
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let span = self.quoted_scalar_span(style, span);
                // A mapping key is text as written (`1:` is the key "1", `on:` is "on").
                let is_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                let value = if is_key && tag.is_none() {
                    NodeValue::String(text.into_owned())
                } else {
                    scalar_value(text, style, tag.as_deref(), span)?
                };
                let is_merge_key = style == ScalarStyle::Plain && matches!(&value, NodeValue::String(s) if s == "<<");
                self.push_node(Node { value, span }, anchor, is_merge_key)?;
            }
            Event::Alias(anchor) => {
                let (node, size) = self.anchors.get(&anchor).ok_or(YamlError {
                    kind: YamlErrorKind::UnknownAlias,
                    span,
                })?;
                self.alias_nodes += size;
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err(YamlError {
                        kind: YamlErrorKind::AliasBudget {
                            limit: self.limits.max_alias_nodes,
                        },
                        span,
                    });
                }
                let node = node.clone();
                self.push_node(node, 0, false)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.check_depth(span)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    start: span,
                    anchor,
                });
            }
            Event::MappingStart(anchor, _) => {
                self.check_depth(span)?;
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    start: span,
                    anchor,
                    key: None,
                    merges: Vec::new(),
                    has_complex_key: false,
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, start, anchor }) = self.stack.pop() {
                    let span = Span {
                        start: start.start,
                        end: span.end,
                    };
                    self.push_node(
                        Node {
                            value: NodeValue::Seq(items),
                            span,
                        },
                        anchor,
                        false,
                    )?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    mut entries,
                    start,
                    anchor,
                    merges,
                    has_complex_key,
                    ..
                }) = self.stack.pop()
                {
                    let span = Span {
                        start: start.start,
                        end: span.end,
                    };
                    apply_merges(&mut entries, merges);
                    let node = if has_complex_key {
                        self.complex_key_map(entries, span)
                    } else {
                        Node {
                            value: NodeValue::Map(entries),
                            span,
                        }
                    };
                    self.push_node(node, anchor, false)?;
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    /// A quoted scalar's span ends at its closing quote: the parser counts the blanks after it
    /// in flow collections (`{ x: "a" }`), and positions inside the string need the quote.
    fn quoted_scalar_span(&self, style: ScalarStyle, span: Span) -> Span {
        let quote = match style {
            ScalarStyle::SingleQuoted => '\'',
            ScalarStyle::DoubleQuoted => '"',
            _ => return span,
        };
        let written = self.source.slice(span.start.offset, span.end.offset);
        let blanks = written.chars().rev().take_while(|c| *c == ' ' || *c == '\t').count();
        if blanks == 0 || !written.trim_end_matches([' ', '\t']).ends_with(quote) {
            return span;
        }
        Span {
            end: Pos {
                column: span.end.column.saturating_sub(blanks),
                offset: span.end.offset.saturating_sub(blanks),
                ..span.end
            },
            ..span
        }
    }

    fn check_depth(&self, span: Span) -> Result<(), YamlError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError {
                kind: YamlErrorKind::TooDeep {
                    limit: self.limits.max_depth,
                },
                span,
            });
        }
        Ok(())
    }

    /// A mapping with a non-scalar key: an unquoted `{{ expr }}` becomes the string the user
    /// meant (so checking goes on) with its own diagnostic; anything else is reported.
    fn complex_key_map(&mut self, entries: Vec<(Key, Node)>, span: Span) -> Node {
        let source = self.source.slice(span.start.offset, span.end.offset);
        if source.starts_with("{{") && source.ends_with("}}") {
            self.errors.push(YamlError {
                kind: YamlErrorKind::UnquotedTemplate {
                    text: source.to_owned(),
                },
                span,
            });
            return Node {
                value: NodeValue::String(source.to_owned()),
                span,
            };
        }
        Node {
            value: NodeValue::Map(entries),
            span,
        }
    }

    fn push_node(&mut self, node: Node, anchor: usize, is_merge_key: bool) -> Result<(), YamlError> {
        if anchor != 0 {
            let size = count_nodes(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                merges,
                has_complex_key,
                ..
            }) => match key.take() {
                None => {
                    let span = node.span;
                    *key = Some(match node.value {
                        _ if is_merge_key => PendingKey::Merge,
                        NodeValue::Seq(_) | NodeValue::Map(_) => {
                            *has_complex_key = true;
                            PendingKey::Complex(node)
                        }
                        // Keys arrive as their text (see `Event::Scalar`); only tagged keys resolve.
                        NodeValue::String(name) => PendingKey::Key(Key { name, span }),
                        _ => PendingKey::Key(Key {
                            name: self.source.slice(span.start.offset, span.end.offset).trim().to_owned(),
                            span,
                        }),
                    });
                }
                Some(PendingKey::Merge) => merges.push(node),
                Some(PendingKey::Complex(key_node)) => {
                    // Reported only when the mapping is not an unquoted template (the common case).
                    let source = self.source.slice(key_node.span.start.offset, key_node.span.end.offset);
                    if !source.starts_with('{') {
                        self.errors.push(YamlError {
                            kind: YamlErrorKind::ComplexKey {
                                found: key_node.type_name(),
                            },
                            span: key_node.span,
                        });
                    }
                }
                Some(PendingKey::Key(new_key)) => {
                    if let Some((first, _)) = entries.iter().find(|(existing, _)| existing.name == new_key.name) {
                        self.errors.push(YamlError {
                            kind: YamlErrorKind::DuplicateKey {
                                key: new_key.name.clone(),
                                first_line: first.span.start.line,
                            },
                            span: new_key.span,
                        });
                    } else {
                        entries.push((new_key, node));
                    }
                }
            },
        }
        Ok(())
    }
}

/// `<<: *defaults` (or a list of them) adds the keys the mapping does not set itself.
fn apply_merges(entries: &mut Vec<(Key, Node)>, merges: Vec<Node>) {
    for merge in merges {
        let sources = match merge.value {
            NodeValue::Seq(items) => items,
            _ => vec![merge],
        };
        for source in sources {
            if let NodeValue::Map(source_entries) = source.value {
                for (key, value) in source_entries {
                    if !entries.iter().any(|(existing, _)| existing.name == key.name) {
                        entries.push((key, value));
                    }
                }
            }
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    let mut count = 0;
    node.walk(&mut |_| count += 1);
    count
}

/// The text being parsed, sliced by character offsets. The offsets asked for mostly grow
/// during a parse, so a cursor that only moves forward keeps slicing linear over a whole file
/// (a file full of unquoted templates must not make the parser quadratic).
struct Source<'text> {
    text: &'text str,
    /// (character offset, byte offset) of the last position found.
    cursor: Cell<(usize, usize)>,
}

impl<'text> Source<'text> {
    fn byte_at(&self, char_offset: usize) -> usize {
        let (mut chars, mut bytes) = self.cursor.get();
        if char_offset < chars {
            (chars, bytes) = (0, 0);
        }
        let rest = &self.text[bytes..];
        let advance = rest
            .char_indices()
            .nth(char_offset - chars)
            .map_or(rest.len(), |(at, _)| at);
        self.cursor.set((char_offset, bytes + advance));
        bytes + advance
    }

    fn slice(&self, start: usize, end: usize) -> &'text str {
        let start_byte = self.byte_at(start);
        let end_byte = self.byte_at(end).max(start_byte);
        &self.text[start_byte..end_byte]
    }
}

fn scalar_value(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Result<NodeValue, YamlError> {
    let Some(tag) = tag else {
        return Ok(if style == ScalarStyle::Plain {
            resolve_plain(text)
        } else {
            NodeValue::String(text.into_owned())
        });
    };
    let unsupported = || YamlError {
        kind: YamlErrorKind::UnsupportedTag { tag: tag.to_string() },
        span,
    };
    if !tag.is_yaml_core_schema() {
        return Err(unsupported());
    }
    let resolved = resolve_plain(Cow::Borrowed(text.as_ref()));
    match (tag.suffix.as_str(), resolved) {
        ("str", _) => Ok(NodeValue::String(text.into_owned())),
        ("null", value @ NodeValue::Null)
        | ("bool", value @ NodeValue::Bool(_))
        | ("int", value @ NodeValue::Int(_))
        | ("float", value @ NodeValue::Float(_)) => Ok(value),
        ("float", NodeValue::Int(value)) => Ok(NodeValue::Float(value as f64)),
        _ => Err(unsupported()),
    }
}
