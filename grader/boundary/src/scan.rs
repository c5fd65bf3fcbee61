//! The check itself: one walk over a file's tokens.
//!
//! Why tokens and not a syntax tree: in a syntax tree the arguments of a
//! macro (`println!`, `vec!`, `assert!`) are still unparsed tokens, and an
//! attack hides there as easily as anywhere (`vec![{ use std as s;
//! s::fs::read("x") }]`). So every rule below is a rule about tokens and
//! holds the same inside macro arguments, attributes and items. syn parses
//! only the fragments whose structure matters: `use` items.
//!
//! The walk runs twice. The first pass records every renaming that a `use`
//! makes, anywhere in the file (inside a function, a module or a macro's
//! arguments alike); the second checks every path, macro, attribute and
//! item against the policy, seeing each name through those renamings.
//! Renamings are recorded for the whole file, not per scope: a name is
//! seen through every `use` that introduces it, which can only refuse
//! more.

use std::borrow::Cow;
use std::collections::HashMap;

use proc_macro2::{Delimiter, Ident, Spacing, Span, TokenStream, TokenTree};

use crate::policy::{Judgement, Rules};
use crate::Refusal;

/// How deep brackets may nest. Real code stays far below; the limit keeps
/// the walk (and syn) from exhausting the grader's stack on a hostile file.
const MAX_DEPTH: usize = 128;

/// How many renamings may be followed while resolving one path.
const MAX_EXPANSIONS: usize = 64;

/// Keywords that cannot begin a path. `crate`, `self`, `super` and `Self`
/// can, and are not here. Edition 2021; `gen` is still an identifier there.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try", "typeof",
    "unsized", "virtual", "yield",
];

/// Keywords that introduce an item with a name.
const NAMING_KEYWORDS: &[&str] = &[
    "fn", "struct", "enum", "union", "mod", "const", "static", "type", "trait",
];

/// Keywords that may stand between an item's attributes and its kind.
const ITEM_QUALIFIERS: &[&str] = &["pub", "const", "async", "unsafe", "safe", "default"];

/// Keywords that begin an item. An attribute followed by one of them (after
/// qualifiers) applies to the whole item.
const ITEM_KINDS: &[&str] = &[
    "fn", "mod", "impl", "struct", "enum", "union", "trait", "type", "use", "const", "static",
];

/// Checks `source` and returns every refusal, in no particular order.
pub(crate) fn scan(file: &str, source: &str, rules: &Rules) -> Vec<Refusal> {
    let source = blank_shebang(source);
    let mut scanner = Scanner {
        file,
        rules,
        aliases: HashMap::new(),
        refusals: Vec::new(),
    };
    let tokens: TokenStream = match source.parse() {
        Ok(tokens) => tokens,
        Err(e) => {
            let message = rules.say(file, "<unreadable file>", "<unreadable file>", "");
            scanner.refuse(e.span(), file.to_string(), message);
            return scanner.refusals;
        }
    };
    if let Some(span) = scanner.check_every_token(&tokens) {
        let message = rules.say(file, "<too deep>", "<too deep>", &MAX_DEPTH.to_string());
        scanner.refuse(span, file.to_string(), message);
        return scanner.refusals;
    }
    scanner.record_renamings(tokens.clone());
    scanner.walk(tokens, false);
    scanner.refusals
}

/// The source as rustc reads it: a first line starting with `#!` that is
/// not an inner attribute is a shebang, which rustc ignores. It is blanked
/// (not removed) so that positions stay right.
fn blank_shebang(source: &str) -> Cow<'_, str> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let Some(rest) = source.strip_prefix("#!") else {
        return Cow::Borrowed(source);
    };
    if skip_blanks(rest).starts_with('[') {
        return Cow::Borrowed(source);
    }
    let end = source.find('\n').unwrap_or(source.len());
    let blank = " ".repeat(source[..end].chars().count());
    Cow::Owned(blank + &source[end..])
}

/// `text` after its leading whitespace and comments (block comments nest,
/// as in rustc). Doc comments are skipped too: that can only make a
/// shebang look like an attribute, and then its line is checked as code.
fn skip_blanks(mut text: &str) -> &str {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix("//") {
            text = rest.find('\n').map_or("", |i| &rest[i..]);
        } else if text.starts_with("/*") {
            let mut depth = 0usize;
            let mut i = 0;
            let bytes = text.as_bytes();
            loop {
                if i + 1 >= bytes.len() {
                    return "";
                }
                match (bytes[i], bytes[i + 1]) {
                    (b'/', b'*') => {
                        depth += 1;
                        i += 2;
                    }
                    (b'*', b'/') => {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => i += 1,
                }
            }
            text = &text[i..];
        } else {
            return text;
        }
    }
}

/// A name as written, less a raw identifier's `r#`: `r#std` is `std`.
fn name(ident: &Ident) -> String {
    let text = ident.to_string();
    match text.strip_prefix("r#") {
        Some(bare) => bare.to_string(),
        None => text,
    }
}

fn is_punct(token: Option<&TokenTree>, c: char) -> bool {
    matches!(token, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

fn is_ident(token: Option<&TokenTree>, text: &str) -> bool {
    matches!(token, Some(TokenTree::Ident(i)) if i == text)
}

fn is_group(token: Option<&TokenTree>, delimiter: Delimiter) -> bool {
    matches!(token, Some(TokenTree::Group(g)) if g.delimiter() == delimiter)
}

/// Whether `tokens[i..]` starts with `::`.
fn is_path_sep(tokens: &[TokenTree], i: usize) -> bool {
    matches!(tokens.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
        && is_punct(tokens.get(i + 1), ':')
}

/// Whether `tokens[i]` is the `!` of a macro invocation (and not `!=`).
fn is_macro_bang(tokens: &[TokenTree], i: usize) -> bool {
    match tokens.get(i) {
        Some(TokenTree::Punct(p)) if p.as_char() == '!' => {
            let next = tokens.get(i + 1);
            let not_equal = p.spacing() == Spacing::Joint && is_punct(next, '=');
            !not_equal && matches!(next, Some(TokenTree::Group(_) | TokenTree::Ident(_)))
        }
        _ => false,
    }
}

/// The index of the first `;` at or after `from`.
fn semicolon(tokens: &[TokenTree], from: usize) -> Option<usize> {
    (from..tokens.len()).find(|&j| is_punct(tokens.get(j), ';'))
}

/// The tokens of a parenthesized list, split at its top-level commas.
fn comma_separated(tokens: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut parts = vec![Vec::new()];
    for token in tokens {
        if is_punct(Some(&token), ',') {
            parts.push(Vec::new());
        } else {
            parts.last_mut().expect("never empty").push(token);
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// Where a path written with `use` ends up, before renamings are followed.
#[derive(Clone, Debug)]
struct Target {
    path: Vec<String>,
    absolute: bool,
}

/// What a path leads to, renamings followed.
#[derive(Clone, Debug)]
enum Resolved {
    /// A path of a crate, starting with its name.
    External(Vec<String>),
    /// The student's own.
    Local,
    /// `::name` where `name` is no crate.
    UnknownCrate(String),
    /// Too many renamings to follow.
    TooDeep,
}

/// One thing a `use` item imports.
#[derive(Debug)]
enum Leaf {
    /// `a::b` or `a::b as c`; `alias` is the name it is known by after,
    /// if any (`as _` gives none).
    Import {
        target: Target,
        alias: Option<String>,
        span: Span,
    },
    /// `a::b::*`.
    Glob { target: Target, span: Span },
}

/// Reads a `use` item (from `use` to its `;`) into what it imports.
fn parse_use(tokens: &[TokenTree]) -> Option<Vec<Leaf>> {
    let item: syn::ItemUse = syn::parse2(tokens.iter().cloned().collect()).ok()?;
    let absolute = item.leading_colon.is_some();
    let mut leaves = Vec::new();
    flatten(&item.tree, &mut Vec::new(), absolute, &mut leaves);
    Some(leaves)
}

fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, absolute: bool, out: &mut Vec<Leaf>) {
    let import = |prefix: &[String], ident: &Ident, rename: Option<&Ident>| {
        let mut path = prefix.to_vec();
        let own = name(ident);
        if own != "self" {
            path.push(own);
        }
        let alias = match rename {
            Some(rename) => Some(name(rename)).filter(|r| r != "_"),
            None => path.last().cloned(),
        };
        (!path.is_empty()).then(|| Leaf::Import {
            target: Target { path, absolute },
            alias,
            span: ident.span(),
        })
    };
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(name(&p.ident));
            flatten(&p.tree, prefix, absolute, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => out.extend(import(prefix, &n.ident, None)),
        syn::UseTree::Rename(r) => out.extend(import(prefix, &r.ident, Some(&r.rename))),
        syn::UseTree::Glob(g) => out.push(Leaf::Glob {
            target: Target {
                path: prefix.clone(),
                absolute,
            },
            span: g.star_token.spans[0],
        }),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                flatten(tree, prefix, absolute, out);
            }
        }
    }
}

fn written(target: &Target) -> String {
    let path = target.path.join("::");
    if target.absolute {
        format!("::{path}")
    } else {
        path
    }
}

struct Scanner<'a, 'p> {
    file: &'a str,
    rules: &'a Rules<'p>,
    /// Every name a `use` introduces, with where it leads.
    aliases: HashMap<String, Vec<Target>>,
    refusals: Vec<Refusal>,
}

impl Scanner<'_, '_> {
    fn refuse(&mut self, span: Span, item: String, message: String) {
        let start = span.start();
        self.refusals.push(Refusal {
            file: self.file.to_string(),
            line: start.line,
            column: start.column + 1,
            item,
            message,
        });
    }

    /// Checks what holds for every token wherever it is, with its own
    /// stack so that it cannot overflow the thread's: that identifiers are
    /// ASCII, and that brackets nest at most [`MAX_DEPTH`] deep. Returns
    /// where they first nest deeper, if they do; nothing else can then be
    /// checked.
    ///
    /// Why ASCII: rustc reads identifiers in Unicode's NFC form, in which
    /// some letters are others (the Kelvin sign `\u{212A}` is `K`), so a
    /// name could be one name to the compiler and two to this check.
    fn check_every_token(&mut self, tokens: &TokenStream) -> Option<Span> {
        let mut stack = vec![tokens.clone().into_iter()];
        while let Some(top) = stack.last_mut() {
            match top.next() {
                Some(TokenTree::Group(g)) => {
                    if stack.len() >= MAX_DEPTH {
                        return Some(g.span_open());
                    }
                    stack.push(g.stream().into_iter());
                }
                Some(TokenTree::Ident(id)) => {
                    let text = id.to_string();
                    if !text.is_ascii() {
                        let message = self.rules.say(&text, "<not ascii>", "<not ascii>", "");
                        self.refuse(id.span(), text, message);
                    }
                }
                Some(_) => {}
                None => {
                    stack.pop();
                }
            }
        }
        None
    }

    /// The first pass: records the names every `use` introduces.
    fn record_renamings(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => self.record_renamings(g.stream()),
                TokenTree::Ident(id) if id == "use" && !is_punct(tokens.get(i + 1), '<') => {
                    if let Some(end) = semicolon(&tokens, i) {
                        for leaf in parse_use(&tokens[i..=end]).unwrap_or_default() {
                            if let Leaf::Import {
                                target,
                                alias: Some(alias),
                                ..
                            } = leaf
                            {
                                self.aliases.entry(alias).or_default().push(target);
                            }
                        }
                        i = end;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// Where a path leads, through every renaming that could apply.
    ///
    /// A renamed name is followed wherever it appears in the path, not only
    /// first: `m::io::stdin` may be `std::io::stdin` re-exported by a
    /// module `m`. Likewise a crate's name anywhere in a path is taken to
    /// be that crate (`self::std::fs` after `use std;`).
    fn resolve(&self, path: &[String], absolute: bool) -> Vec<Resolved> {
        let mut out = Vec::new();
        let mut budget = MAX_EXPANSIONS;
        self.resolve_into(
            path.to_vec(),
            absolute,
            &mut Vec::new(),
            &mut budget,
            &mut out,
        );
        out
    }

    fn resolve_into(
        &self,
        path: Vec<String>,
        absolute: bool,
        expanding: &mut Vec<String>,
        budget: &mut usize,
        out: &mut Vec<Resolved>,
    ) {
        if *budget == 0 {
            out.push(Resolved::TooDeep);
            return;
        }
        *budget -= 1;
        if absolute {
            // Since edition 2018, `::name` is always a crate.
            match path.first() {
                Some(first) if self.rules.is_crate(first) => out.push(Resolved::External(path)),
                Some(first) => out.push(Resolved::UnknownCrate(first.clone())),
                None => out.push(Resolved::Local),
            }
            return;
        }
        for k in 0..path.len() {
            let segment = &path[k];
            // A renaming is not followed inside its own expansion, so that
            // `use std;` (which renames `std` to itself) ends.
            if !expanding.contains(segment) {
                if let Some(targets) = self.aliases.get(segment) {
                    expanding.push(segment.clone());
                    for target in targets {
                        let mut next = target.path.clone();
                        next.extend_from_slice(&path[k + 1..]);
                        self.resolve_into(next, target.absolute, expanding, budget, out);
                    }
                    expanding.pop();
                    return;
                }
            }
            if self.rules.is_crate(segment) {
                out.push(Resolved::External(path[k..].to_vec()));
                return;
            }
        }
        out.push(Resolved::Local);
    }

    /// The second pass, over one token sequence (the file or a group's
    /// contents). `in_test`: the sequence is inside a `#[cfg(test)]` item.
    fn walk(&mut self, tokens: TokenStream, in_test: bool) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        // The previous token was `>`: a `::` after it may continue a path
        // (`Vec::<u8>::new`), so what follows is read as a relative path,
        // not as `::crate` (a crate's name or a renaming in it still counts:
        // `x > ::std::process::id()` is refused all the same).
        let mut after_angle = false;
        // The last index inside an item marked `#[cfg(test)]`.
        let mut test_until: Option<usize> = None;
        while i < tokens.len() {
            let in_test = in_test || test_until.is_some_and(|end| i <= end);
            let angle = is_punct(tokens.get(i), '>');
            match &tokens[i] {
                TokenTree::Punct(p) if p.as_char() == '#' => {
                    let inner = is_punct(tokens.get(i + 1), '!');
                    let at = if inner { i + 2 } else { i + 1 };
                    if let Some(TokenTree::Group(g)) = tokens.get(at) {
                        if g.delimiter() == Delimiter::Bracket {
                            let content: Vec<TokenTree> = g.stream().into_iter().collect();
                            self.attribute(&content, p.span(), in_test);
                            if !inner && is_cfg_test(&content) {
                                if let Some(end) = test_item_end(&tokens, at + 1) {
                                    test_until = Some(test_until.map_or(end, |e| e.max(end)));
                                }
                            }
                            i = at + 1;
                            after_angle = false;
                            continue;
                        }
                    }
                }
                TokenTree::Punct(p)
                    if p.as_char() == '\''
                        && p.spacing() == Spacing::Joint
                        && matches!(tokens.get(i + 1), Some(TokenTree::Ident(_))) =>
                {
                    // A lifetime or a label, not a path.
                    i += 2;
                    after_angle = false;
                    continue;
                }
                TokenTree::Punct(_) if is_path_sep(&tokens, i) => {
                    i = match tokens.get(i + 2) {
                        Some(TokenTree::Ident(_)) => {
                            self.path(&tokens, i + 2, !after_angle, in_test)
                        }
                        _ => i + 2,
                    };
                    after_angle = false;
                    continue;
                }
                TokenTree::Ident(_) => {
                    i = self.ident(&tokens, i, in_test);
                    after_angle = false;
                    continue;
                }
                TokenTree::Group(g) => self.walk(g.stream(), in_test),
                _ => {}
            }
            after_angle = angle;
            i += 1;
        }
    }

    /// An identifier at `tokens[i]`: a keyword with a rule of its own, or
    /// the start of a path. Returns the index after what it consumed.
    fn ident(&mut self, tokens: &[TokenTree], i: usize, in_test: bool) -> usize {
        let TokenTree::Ident(id) = &tokens[i] else {
            unreachable!("called on identifiers")
        };
        // Compared as written: `r#unsafe` is an identifier, not a keyword.
        let text = id.to_string();
        let next = tokens.get(i + 1);
        match text.as_str() {
            "unsafe" => {
                let message = self.rules.say("unsafe", "unsafe", "unsafe", "");
                self.refuse(id.span(), text.clone(), message);
            }
            "extern" => {
                let (key, item) = match next {
                    Some(TokenTree::Ident(n)) if n == "crate" => {
                        let krate = match tokens.get(i + 2) {
                            Some(TokenTree::Ident(k)) => format!(" {k}"),
                            _ => String::new(),
                        };
                        ("extern crate", format!("extern crate{krate}"))
                    }
                    Some(TokenTree::Ident(n)) if n == "fn" => {
                        ("extern fn", "extern fn".to_string())
                    }
                    Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                        ("extern block", "extern { ... }".to_string())
                    }
                    Some(TokenTree::Literal(abi)) => {
                        if is_ident(tokens.get(i + 2), "fn") {
                            ("extern fn", format!("extern {abi} fn"))
                        } else if is_group(tokens.get(i + 2), Delimiter::Brace) {
                            ("extern block", format!("extern {abi} {{ ... }}"))
                        } else {
                            ("extern", format!("extern {abi}"))
                        }
                    }
                    _ => ("extern", "extern".to_string()),
                };
                let message = self.rules.say(&item, key, "extern", "");
                self.refuse(id.span(), item, message);
            }
            "use" if !is_punct(next, '<') => return self.use_item(tokens, i, in_test),
            "mod" => {
                if let Some(TokenTree::Ident(module)) = next {
                    if is_punct(tokens.get(i + 2), ';') {
                        let item = format!("mod {module};");
                        let message = self.rules.say(&item, "mod;", "mod;", &module.to_string());
                        self.refuse(id.span(), item, message);
                    }
                }
            }
            "static" => {
                if let Some(TokenTree::Ident(m)) = next {
                    if m == "mut" {
                        let item = match tokens.get(i + 2) {
                            Some(TokenTree::Ident(n)) => format!("static mut {n}"),
                            _ => "static mut".to_string(),
                        };
                        let message = self.rules.say(&item, "static mut", "static mut", "");
                        self.refuse(id.span(), item, message);
                    }
                }
            }
            _ => {}
        }
        if NAMING_KEYWORDS.contains(&text.as_str()) {
            if let Some(TokenTree::Ident(item_name)) = next {
                let item_name = name(item_name);
                if self.rules.is_crate(&item_name) {
                    let item = format!("{text} {item_name}");
                    let message = self
                        .rules
                        .say(&item, "<crate name>", "<crate name>", &item_name);
                    self.refuse(id.span(), item, message);
                }
            }
        }
        if KEYWORDS.contains(&text.as_str()) {
            return i + 1;
        }
        self.path(tokens, i, false, in_test)
    }

    /// A path starting at the identifier `tokens[first]` (after a `::` if
    /// `absolute`): reads `a::b::c` as far as it goes, then checks it as a
    /// macro if `!` follows, else as a path. Returns the index after it.
    fn path(&mut self, tokens: &[TokenTree], first: usize, absolute: bool, in_test: bool) -> usize {
        let TokenTree::Ident(head) = &tokens[first] else {
            unreachable!("paths start with identifiers")
        };
        let span = head.span();
        let mut segments = vec![name(head)];
        let mut item = if absolute {
            format!("::{head}")
        } else {
            head.to_string()
        };
        let mut k = first + 1;
        let mut ends_in_sep = false;
        while is_path_sep(tokens, k) {
            match tokens.get(k + 2) {
                Some(TokenTree::Ident(segment)) => {
                    segments.push(name(segment));
                    item.push_str(&format!("::{segment}"));
                    k += 3;
                }
                _ => {
                    // `a::<T>`, `a::{b, c}`, `a::*`: the path ends here, and
                    // what follows is walked on its own.
                    k += 2;
                    ends_in_sep = true;
                    break;
                }
            }
        }
        if !ends_in_sep && is_macro_bang(tokens, k) {
            self.macro_call(&segments, absolute, &item, span);
            let defines = segments.len() == 1 && segments[0] == "macro_rules";
            if defines
                && matches!(tokens.get(k + 1), Some(TokenTree::Ident(_)))
                && matches!(tokens.get(k + 2), Some(TokenTree::Group(_)))
            {
                // The body of a macro definition is a pattern language, not
                // code: checking it would only add noise to the refusal.
                return k + 3;
            }
            return k + 1;
        }
        self.check_path(&segments, absolute, &item, span, in_test);
        k
    }

    fn check_path(
        &mut self,
        segments: &[String],
        absolute: bool,
        item: &str,
        span: Span,
        in_test: bool,
    ) {
        // A single name leads outside the file only through a renaming: a
        // crate's bare name is no value, type or function.
        if segments.len() == 1 && !absolute && !self.aliases.contains_key(&segments[0]) {
            return;
        }
        for resolved in self.resolve(segments, absolute) {
            if let Some(message) = self.judge(&resolved, item, in_test, false) {
                self.refuse(span, item.to_string(), message);
                return;
            }
        }
    }

    /// Why `resolved` may not be named, if it may not.
    fn judge(
        &self,
        resolved: &Resolved,
        item: &str,
        in_test: bool,
        as_import: bool,
    ) -> Option<String> {
        match resolved {
            Resolved::Local => None,
            Resolved::External(path) => match self.rules.judge(path, in_test) {
                Judgement::Allowed | Judgement::Partial => None,
                // `use std::println;`: a macro, which only its invocations
                // can use.
                Judgement::Refused { .. }
                    if as_import && self.rules.is_allowed_macro_path(path) =>
                {
                    None
                }
                Judgement::Refused { area } => {
                    Some(self.rules.say_path(&path[..area].join("::"), path))
                }
            },
            Resolved::UnknownCrate(krate) => {
                let area = format!("::{krate}");
                Some(
                    self.rules
                        .say(&area, "<unknown crate>", "<unknown crate>", krate),
                )
            }
            Resolved::TooDeep => Some(self.rules.say(item, "<renamings>", "<renamings>", "")),
        }
    }

    fn macro_call(&mut self, segments: &[String], absolute: bool, item: &str, span: Span) {
        let last = segments.last().expect("a path has a segment");
        let bang = format!("{item}!");
        let allowed = if segments.len() == 1 && !absolute && !self.aliases.contains_key(last) {
            self.rules.is_allowed_macro(last)
        } else {
            // Through a path or a renaming: allowed only if it leads to an
            // allowed macro of `std`. No local macro can exist (defining
            // one is refused), so a path that stays local is refused too.
            self.resolve(segments, absolute).iter().all(|r| match r {
                Resolved::External(path) => self.rules.is_allowed_macro_path(path),
                _ => false,
            })
        };
        if !allowed {
            let message = self.rules.say(&bang, &format!("{last}!"), "<macro>", "");
            self.refuse(span, bang, message);
        }
    }

    /// A `use` item starting at `tokens[i]`: checks each thing it imports.
    /// Returns the index after its `;`.
    fn use_item(&mut self, tokens: &[TokenTree], i: usize, in_test: bool) -> usize {
        let at = tokens[i].span();
        let Some((end, leaves)) =
            semicolon(tokens, i).and_then(|end| Some((end, parse_use(&tokens[i..=end])?)))
        else {
            let message = self
                .rules
                .say("use", "<unreadable use>", "<unreadable use>", "");
            self.refuse(at, "use".to_string(), message);
            // What follows is still walked as code.
            return i + 1;
        };
        for leaf in leaves {
            match leaf {
                Leaf::Import {
                    target,
                    alias,
                    span,
                } => {
                    let item = written(&target);
                    if let Some(alias) = alias {
                        let same = target.path.len() == 1 && target.path[0] == alias;
                        if self.rules.is_crate(&alias) && !same {
                            let item = format!("{item} as {alias}");
                            let message =
                                self.rules
                                    .say(&item, "<crate name>", "<crate name>", &alias);
                            self.refuse(span, item, message);
                        }
                    }
                    for resolved in self.resolve(&target.path, target.absolute) {
                        if let Some(message) = self.judge(&resolved, &item, in_test, true) {
                            self.refuse(span, item.clone(), message);
                            break;
                        }
                    }
                }
                Leaf::Glob { target, span } => {
                    let item = format!("{}::*", written(&target));
                    for resolved in self.resolve(&target.path, target.absolute) {
                        let message = match &resolved {
                            Resolved::External(path) => match self.rules.judge(path, in_test) {
                                Judgement::Allowed => None,
                                Judgement::Partial => Some(self.rules.say(
                                    &item,
                                    "<glob>",
                                    "<glob>",
                                    &path.join("::"),
                                )),
                                Judgement::Refused { .. } => {
                                    self.judge(&resolved, &item, in_test, false)
                                }
                            },
                            other => self.judge(other, &item, in_test, false),
                        };
                        if let Some(message) = message {
                            self.refuse(span, item.clone(), message);
                            break;
                        }
                    }
                }
            }
        }
        end + 1
    }

    /// One attribute, `content` being what is between its brackets.
    fn attribute(&mut self, content: &[TokenTree], at: Span, in_test: bool) {
        let mut k = 0;
        let mut path = Vec::new();
        while let Some(TokenTree::Ident(segment)) = content.get(k) {
            path.push(name(segment));
            if is_path_sep(content, k + 1) {
                k += 3;
            } else {
                k += 1;
                break;
            }
        }
        if path.is_empty() {
            let item = format!("#[{}]", content.iter().cloned().collect::<TokenStream>());
            let message = self.rules.say(
                &item,
                "<unreadable attribute>",
                "<unreadable attribute>",
                "",
            );
            self.refuse(at, item, message);
            return;
        }
        let attribute = path.join("::");
        let rest = &content[k.min(content.len())..];
        if !self.rules.is_allowed_attribute(&attribute) {
            let item = match (attribute.as_str(), rest.first()) {
                ("unsafe", Some(TokenTree::Group(g))) => format!("#[unsafe({})]", g.stream()),
                _ => format!("#[{attribute}]"),
            };
            let message = self
                .rules
                .say(&item, &format!("#[{attribute}]"), "<attribute>", "");
            self.refuse(at, item, message);
            return;
        }
        match (attribute.as_str(), rest.first()) {
            ("cfg_attr", Some(TokenTree::Group(g))) if rest.len() == 1 => {
                let mut parts = comma_separated(g.stream()).into_iter();
                if let Some(predicate) = parts.next() {
                    self.walk(predicate.into_iter().collect(), in_test);
                }
                for attribute in parts {
                    self.attribute(&attribute, at, in_test);
                }
            }
            ("derive", Some(TokenTree::Group(g))) if rest.len() == 1 => {
                for derive in comma_separated(g.stream()) {
                    self.derive(&derive, at, in_test);
                }
            }
            _ => self.walk(rest.iter().cloned().collect(), in_test),
        }
    }

    /// One name in `#[derive(...)]`.
    fn derive(&mut self, tokens: &[TokenTree], at: Span, in_test: bool) {
        let absolute = is_path_sep(tokens, 0);
        let mut k = if absolute { 2 } else { 0 };
        let mut segments = Vec::new();
        let mut readable = true;
        loop {
            match tokens.get(k) {
                Some(TokenTree::Ident(segment)) => segments.push(name(segment)),
                _ => {
                    readable = false;
                    break;
                }
            }
            if is_path_sep(tokens, k + 1) {
                k += 3;
            } else {
                readable &= k + 1 == tokens.len();
                break;
            }
        }
        let written: String = tokens.iter().cloned().collect::<TokenStream>().to_string();
        let item = format!("#[derive({})]", written.replace(' ', ""));
        let allowed = readable
            && segments
                .last()
                .is_some_and(|last| self.rules.is_allowed_derive(last));
        if !allowed {
            let message = self.rules.say(&item, "<derive>", "<derive>", "");
            self.refuse(at, item, message);
        } else if segments.len() > 1 || absolute {
            self.check_path(&segments, absolute, &written.replace(' ', ""), at, in_test);
        }
    }
}

/// Whether an attribute's content is exactly `cfg(test)`.
fn is_cfg_test(content: &[TokenTree]) -> bool {
    match content {
        [TokenTree::Ident(cfg), TokenTree::Group(g)]
            if cfg == "cfg" && g.delimiter() == Delimiter::Parenthesis =>
        {
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            matches!(inner.as_slice(), [TokenTree::Ident(t)] if t == "test")
        }
        _ => false,
    }
}

/// The last index of `tokens` that surely belongs to the item an outer
/// attribute ending at `tokens[from - 1]` is on, if that attribute is on an
/// item at all.
///
/// Only an item is recognised (after more attributes and qualifiers, its
/// keyword): an attribute on a statement, field, parameter or match arm may
/// cover less than it seems, so there none is granted. An item ends with
/// its body or its `;`, so the first top-level `{ ... }` or `;` after its
/// start is still inside it.
fn test_item_end(tokens: &[TokenTree], from: usize) -> Option<usize> {
    let mut j = from;
    loop {
        if is_punct(tokens.get(j), '#') && is_group(tokens.get(j + 1), Delimiter::Bracket) {
            j += 2;
        } else if is_ident(tokens.get(j), "pub") {
            j += if is_group(tokens.get(j + 1), Delimiter::Parenthesis) {
                2
            } else {
                1
            };
        } else if let Some(TokenTree::Ident(q)) = tokens.get(j) {
            let q = q.to_string();
            if ITEM_KINDS.contains(&q.as_str())
                && !(q == "const" && is_ident(tokens.get(j + 1), "fn"))
                && !(q == "const" && is_ident(tokens.get(j + 1), "async"))
            {
                break;
            }
            if ITEM_QUALIFIERS.contains(&q.as_str()) {
                j += 1;
            } else {
                return None;
            }
        } else {
            return None;
        }
    }
    (j..tokens.len())
        .find(|&e| is_group(tokens.get(e), Delimiter::Brace) || is_punct(tokens.get(e), ';'))
}
