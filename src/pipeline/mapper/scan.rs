//! Static analysis of template sources.
//!
//! minijinja's parser is not public without its unstable feature, so this is a small lexer
//! mirroring minijinja's (markers, whitespace control, comments, raw blocks, strings,
//! numbers, bracket balance). It only runs on sources minijinja has already compiled, so it
//! never has to report errors. Inside expressions `|` is only ever the filter pipe, which
//! makes finding every filter name exact.

use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq)]
enum Tok<'s> {
    Ident(&'s str),
    /// A string literal's contents; `None` when it has escapes (not needed exactly).
    Str(Option<&'s str>),
    Num(&'s str),
    Punct(&'s str),
}

#[derive(Debug, Clone, PartialEq)]
struct Token<'s> {
    tok: Tok<'s>,
    start: usize,
}

/// The tokens of one `{{ … }}` or `{% … %}`.
#[derive(Debug)]
pub(super) struct Region<'s> {
    tokens: Vec<Token<'s>>,
}

/// A literal filter argument.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Str(String),
    Int(i64),
    Other,
}

/// A filter applied in a template.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FilterUse {
    pub(super) name: String,
    /// Byte offset of the name in the source.
    pub(super) start: usize,
    /// The arguments when they are all literals (`[]` without parentheses).
    pub(super) args: Option<Vec<Literal>>,
}

/// A record path read by a template, dotted like [`Record::get`](crate::Record::get) wants it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PathUse {
    pub(super) path: String,
    pub(super) start: usize,
}

pub(super) fn scan(source: &str) -> Vec<Region<'_>> {
    let bytes = source.as_bytes();
    let mut regions = Vec::new();
    let mut pos = 0;
    while let Some(found) = source.get(pos..).and_then(find_marker) {
        let start = pos + found;
        let kind = bytes[start + 1];
        let mut p = start + 2;
        if matches!(bytes.get(p), Some(b'-' | b'+')) {
            p += 1;
        }
        pos = match kind {
            b'#' => match source[start + 2..].find("#}") {
                Some(end) => start + 2 + end + 2,
                None => source.len(),
            },
            b'%' if basic_tag(&source[p..], "raw", false).is_some() => skip_raw(source, p),
            _ => {
                let (tokens, end) = lex_expression(source, p, kind == b'%');
                regions.push(Region { tokens });
                end
            }
        };
    }
    regions
}

/// Offset of the next `{{`, `{%` or `{#`.
fn find_marker(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut offset = 0;
    while let Some(i) = s.get(offset..)?.find('{') {
        let at = offset + i;
        if matches!(bytes.get(at + 1), Some(b'{' | b'%' | b'#')) {
            return Some(at);
        }
        offset = at + 1;
    }
    None
}

/// Length of `[-+]? ws* name ws* [-+]? %}` at the start of `s`, like minijinja's check for
/// `raw` and `endraw` tags.
fn basic_tag(s: &str, name: &str, skip_control: bool) -> Option<usize> {
    let mut rest = s;
    if skip_control {
        rest = rest.strip_prefix(['-', '+']).unwrap_or(rest);
    }
    rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    rest = rest.strip_prefix(name)?;
    rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    rest = rest.strip_prefix(['-', '+']).unwrap_or(rest);
    rest = rest.strip_prefix("%}")?;
    Some(s.len() - rest.len())
}

/// Position after the `{% endraw %}` closing a raw block whose tag starts at `p`.
fn skip_raw(source: &str, p: usize) -> usize {
    let mut q = p;
    while let Some(i) = source.get(q..).and_then(|rest| rest.find("{%")) {
        let after = q + i + 2;
        if let Some(len) = basic_tag(&source[after..], "endraw", true) {
            return after + len;
        }
        q = after;
    }
    source.len()
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn ident_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, c)) if is_ident_start(c) => {}
        _ => return 0,
    }
    chars
        .find(|(_, c)| !is_ident_continue(*c))
        .map_or(s.len(), |(i, _)| i)
}

/// Tokens from `p` to the end of the tag or variable block, and the position after it.
fn lex_expression(source: &str, mut p: usize, block: bool) -> (Vec<Token<'_>>, usize) {
    let end_marker = if block { "%}" } else { "}}" };
    let mut tokens = Vec::new();
    let mut balance = 0isize;
    loop {
        let Some(rest) = source.get(p..) else {
            return (tokens, source.len());
        };
        let skipped = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                .len();
        p += skipped;
        let rest = &rest[skipped..];
        if rest.is_empty() {
            return (tokens, source.len());
        }
        if balance == 0 {
            if rest.starts_with(['-', '+']) && rest[1..].starts_with(end_marker) {
                return (tokens, p + 3);
            }
            if rest.starts_with(end_marker) {
                return (tokens, p + 2);
            }
        }
        let start = p;
        let (tok, len) = if let Some(op) = ["//", "**", "==", "!=", ">=", "<="]
            .into_iter()
            .find(|op| rest.starts_with(op))
        {
            (Tok::Punct(op), 2)
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            match c {
                '\'' | '"' => lex_string(rest, c),
                '0'..='9' => {
                    let len = number_len(rest);
                    (Tok::Num(&rest[..len]), len)
                }
                '(' | '[' | '{' => {
                    balance += 1;
                    (Tok::Punct(&rest[..1]), 1)
                }
                ')' | ']' | '}' => {
                    balance -= 1;
                    (Tok::Punct(&rest[..1]), 1)
                }
                '+' | '-' | '*' | '/' | '%' | '.' | ',' | ':' | '~' | '|' | '=' | '>' | '<' => {
                    (Tok::Punct(&rest[..1]), 1)
                }
                _ => match ident_len(rest) {
                    0 => (Tok::Punct(""), c.len_utf8()),
                    len => (Tok::Ident(&rest[..len]), len),
                },
            }
        };
        tokens.push(Token { tok, start });
        p += len;
    }
}

/// A string literal at the start of `rest`, delimited by `quote`, with backslash escapes.
fn lex_string(rest: &str, quote: char) -> (Tok<'_>, usize) {
    let mut escaped = false;
    let mut has_escapes = false;
    for (i, c) in rest.char_indices().skip(1) {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => {
                escaped = true;
                has_escapes = true;
            }
            (false, c) if c == quote => {
                let inner = &rest[1..i];
                return (Tok::Str((!has_escapes).then_some(inner)), i + 1);
            }
            _ => {}
        }
    }
    (Tok::Str(None), rest.len())
}

/// Length of the number at the start of `s`, following minijinja's lexer: a `.` followed by
/// an identifier ends the number (`messages.0.text`).
fn number_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if matches!(
        bytes.get(..2),
        Some(b"0b" | b"0B" | b"0o" | b"0O" | b"0x" | b"0X")
    ) {
        return 2 + bytes[2..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() || **c == b'_')
            .count();
    }
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Integer,
        Fraction,
        Exponent,
        ExponentSign,
    }
    let mut state = State::Integer;
    let mut len = 0;
    while let Some(&c) = bytes.get(len) {
        state = match (c, state) {
            (b'.', State::Integer) => {
                let is_exp = matches!(bytes.get(len + 1), Some(b'e' | b'E'))
                    && matches!(bytes.get(len + 2), Some(b'+' | b'-' | b'0'..=b'9'));
                if !is_exp && s.get(len + 1..).is_some_and(|r| ident_len(r) > 0) {
                    break;
                }
                State::Fraction
            }
            (b'e' | b'E', State::Integer | State::Fraction) => State::Exponent,
            (b'+' | b'-', State::Exponent) => State::ExponentSign,
            (b'0'..=b'9', State::Exponent) => State::ExponentSign,
            (b'0'..=b'9' | b'_', state) => state,
            _ => break,
        };
        len += 1;
    }
    len
}

/// Every filter applied in the template: `| name` anywhere, and `{% filter name %}`.
pub(super) fn filter_uses(regions: &[Region<'_>]) -> Vec<FilterUse> {
    let mut uses = Vec::new();
    for region in regions {
        let tokens = &region.tokens;
        for (i, token) in tokens.iter().enumerate() {
            let after_pipe = i > 0 && tokens[i - 1].tok == Tok::Punct("|");
            let filter_block = i == 1 && tokens[0].tok == Tok::Ident("filter");
            let is_filter_position = after_pipe || filter_block;
            if let (true, Tok::Ident(name)) = (is_filter_position, &token.tok) {
                uses.push(FilterUse {
                    name: (*name).to_owned(),
                    start: token.start,
                    args: literal_args(&tokens[i + 1..]),
                });
            }
        }
    }
    uses
}

/// The arguments following a filter name when they are all literals.
fn literal_args(tokens: &[Token<'_>]) -> Option<Vec<Literal>> {
    literal_args_len(tokens).map(|(args, _)| args)
}

/// [`literal_args`] with the number of tokens they take (`0` without parentheses).
fn literal_args_len(tokens: &[Token<'_>]) -> Option<(Vec<Literal>, usize)> {
    if !matches!(tokens.first().map(|t| &t.tok), Some(Tok::Punct("("))) {
        return Some((Vec::new(), 0));
    }
    let mut args = Vec::new();
    let mut i = 1;
    loop {
        let (literal, used) = match (
            tokens.get(i).map(|t| &t.tok),
            tokens.get(i + 1).map(|t| &t.tok),
        ) {
            (Some(Tok::Punct(")")), _) if args.is_empty() => return Some((args, i + 1)),
            (Some(Tok::Str(Some(s))), _) => (Literal::Str((*s).to_owned()), 1),
            (Some(Tok::Num(n)), _) => (n.parse().map_or(Literal::Other, Literal::Int), 1),
            (Some(Tok::Punct("-")), Some(Tok::Num(n))) => (
                n.parse::<i64>()
                    .map_or(Literal::Other, |n| Literal::Int(-n)),
                2,
            ),
            (Some(Tok::Ident("true" | "false" | "none" | "True" | "False" | "None")), _) => {
                (Literal::Other, 1)
            }
            _ => return None,
        };
        args.push(literal);
        i += used;
        match tokens.get(i).map(|t| &t.tok) {
            Some(Tok::Punct(",")) => i += 1,
            Some(Tok::Punct(")")) => return Some((args, i + 1)),
            _ => return None,
        }
    }
}

/// A template that is nothing but one `{{ … }}` reading a record path through attributes,
/// then filters whose arguments are all literals: `{{ chat.phone }}`,
/// `{{ at | date('%d/%m/%Y', 'America/Sao_Paulo') }}`, `{{ name | default('-') | upper }}`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Simple<'s> {
    /// The variable, then each attribute (ASCII identifiers only).
    pub(super) path: Vec<&'s str>,
    /// Each filter's name and literal arguments, in the order they apply.
    pub(super) filters: Vec<(&'s str, Vec<Literal>)>,
}

/// The [`Simple`] form of `source`, if it has it. Anything else (text around the block,
/// subscripts, calls, operators, tests, computed arguments) is `None`.
pub(super) fn simple(source: &str) -> Option<Simple<'_>> {
    let bytes = source.as_bytes();
    if !source.starts_with("{{") || !source.ends_with("}}") {
        return None;
    }
    let start = if matches!(bytes.get(2), Some(b'-' | b'+')) {
        3
    } else {
        2
    };
    let (tokens, end) = lex_expression(source, start, false);
    if end != source.len() {
        return None;
    }
    let tok = |i: usize| tokens.get(i).map(|t| &t.tok);
    let ascii_ident = |name: &str| {
        name.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
            && name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric())
    };
    let mut path = match tok(0) {
        Some(Tok::Ident(name)) if ascii_ident(name) => vec![*name],
        _ => return None,
    };
    let mut i = 1;
    while let (Some(Tok::Punct(".")), Some(Tok::Ident(attr))) = (tok(i), tok(i + 1)) {
        if !ascii_ident(attr) {
            return None;
        }
        path.push(*attr);
        i += 2;
    }
    let mut filters = Vec::new();
    while let (Some(Tok::Punct("|")), Some(Tok::Ident(name))) = (tok(i), tok(i + 1)) {
        let (args, used) = literal_args_len(tokens.get(i + 2..)?)?;
        filters.push((*name, args));
        i += 2 + used;
    }
    (i == tokens.len()).then_some(Simple { path, filters })
}

/// Record paths read by the template: each use of a record variable with the attribute
/// and constant subscript chain after it (`messages[0].text` → `messages.0.text`).
pub(super) fn path_uses(regions: &[Region<'_>], variables: &HashSet<&str>) -> Vec<PathUse> {
    let mut uses = Vec::new();
    for region in regions {
        let tokens = &region.tokens;
        let tok = |i: usize| tokens.get(i).map(|t| &t.tok);
        for (i, token) in tokens.iter().enumerate() {
            let Tok::Ident(name) = token.tok else {
                continue;
            };
            if !variables.contains(name) {
                continue;
            }
            let previous = i.checked_sub(1).and_then(tok);
            let test_name = matches!(previous, Some(Tok::Ident("is")))
                || (matches!(previous, Some(Tok::Ident("not")))
                    && matches!(i.checked_sub(2).and_then(tok), Some(Tok::Ident("is"))));
            // An attribute, a filter or test name, or a keyword argument is not a variable.
            let not_variable = test_name
                || matches!(previous, Some(Tok::Punct("." | "|")))
                || (i == 1 && matches!(tok(0), Some(Tok::Ident("filter"))))
                || matches!(tok(i + 1), Some(Tok::Punct("=")));
            if not_variable {
                continue;
            }
            let mut segments = vec![name.to_owned()];
            let mut j = i + 1;
            loop {
                match (tok(j), tok(j + 1), tok(j + 2)) {
                    (Some(Tok::Punct(".")), Some(Tok::Ident(attr)), _) => {
                        segments.push((*attr).to_owned());
                        j += 2;
                    }
                    (Some(Tok::Punct(".")), Some(Tok::Num(n)), _)
                        if n.split('.')
                            .all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) =>
                    {
                        segments.extend(n.split('.').map(str::to_owned));
                        j += 2;
                    }
                    (Some(Tok::Punct("[")), Some(Tok::Num(n)), Some(Tok::Punct("]")))
                        if n.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        segments.push((*n).to_owned());
                        j += 3;
                    }
                    (Some(Tok::Punct("[")), Some(Tok::Str(Some(key))), Some(Tok::Punct("]")))
                        if !key.contains('.') && !key.is_empty() =>
                    {
                        segments.push((*key).to_owned());
                        j += 3;
                    }
                    _ => break,
                }
            }
            // `name.upper()` calls a method: the path ends before it.
            if segments.len() > 1 && matches!(tok(j), Some(Tok::Punct("("))) {
                segments.pop();
            }
            uses.push(PathUse {
                path: segments.join("."),
                start: token.start,
            });
        }
    }
    uses
}
