//! The review prompt, from the one template file `prompt.md`: what the backend is asked to
//! do, about which target, with which diffs.
//!
//! The file is a list of parts, each starting with a line `%% NAME`; a part's `{key}`
//! placeholders are filled in one pass, so text put in (a diff, a client's instructions) is
//! never read for placeholders again.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::git::{Material, Section, SectionKind};

const TEMPLATE: &str = include_str!("prompt.md");

/// What a review is about, in the words of its prompt.
#[derive(Debug, Clone, Copy)]
pub(super) enum Subject<'a> {
    Uncommitted {
        root: &'a str,
    },
    BaseBranch {
        base: &'a str,
        merge_base: &'a str,
    },
    Commit {
        root: &'a str,
        sha: &'a str,
        title: Option<&'a str>,
    },
    Custom {
        instructions: &'a str,
    },
}

/// The prompt of a review of `subject`, with the diffs of `material` (none for custom
/// instructions).
pub(super) fn render(subject: Subject<'_>, material: Option<&Material>) -> String {
    let subject = match subject {
        Subject::Uncommitted { root } => fill("subject.uncommittedChanges", &[("root", root)]),
        Subject::BaseBranch { base, merge_base } => fill(
            "subject.baseBranch",
            &[("base", base), ("merge_base", merge_base)],
        ),
        Subject::Commit {
            root,
            sha,
            title: None,
        } => fill("subject.commit", &[("root", root), ("sha", sha)]),
        Subject::Commit {
            root,
            sha,
            title: Some(title),
        } => fill(
            "subject.commitTitled",
            &[("root", root), ("sha", sha), ("title", title)],
        ),
        Subject::Custom { instructions } => {
            fill("subject.custom", &[("instructions", instructions)])
        }
    };
    let changes = material.map(changes).unwrap_or_default();
    let prompt = fill("prompt", &[("subject", &subject), ("changes", &changes)]);
    format!("{}\n", prompt.trim_end())
}

/// Every diff section, then the untracked files that are only named, as blocks apart.
fn changes(material: &Material) -> String {
    let mut blocks: Vec<String> = material.sections.iter().flat_map(section).collect();
    if !material.untracked_not_shown.is_empty() {
        let mut names: Vec<String> = material
            .untracked_not_shown
            .iter()
            .map(|name| format!("`{name}`"))
            .collect();
        if material.untracked_unnamed > 0 {
            let count = material.untracked_unnamed.to_string();
            names.push(fill("untracked.more", &[("count", &count)]));
        }
        blocks.push(fill("untracked.notShown", &[("names", &names.join(", "))]));
    }
    blocks.join("\n\n")
}

/// A diff section: its diff, and how to read what was cut from it.
fn section(section: &Section) -> Vec<String> {
    let title = part(match section.kind {
        SectionKind::Staged => "title.staged",
        SectionKind::Unstaged => "title.unstaged",
        SectionKind::Untracked => "title.untracked",
        SectionKind::SinceMergeBase => "title.sinceMergeBase",
        SectionKind::Commit => "title.commit",
    });
    let fence = fence_for(&section.diff);
    let mut blocks = vec![fill(
        "section",
        &[
            ("title", title),
            ("command", &section.command),
            ("fence", &fence),
            ("diff", &section.diff),
        ],
    )];
    if section.omitted > 0 {
        let omitted = section.omitted.to_string();
        blocks.push(fill(
            "section.cut",
            &[("omitted", &omitted), ("command", &section.command)],
        ));
    }
    blocks
}

/// A code fence longer than any run of backticks in `text`, so the diff cannot close it.
fn fence_for(text: &str) -> String {
    let longest = text
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    "`".repeat(longest.max(2) + 1)
}

/// The template's parts by name.
fn parts() -> &'static BTreeMap<&'static str, &'static str> {
    static PARTS: OnceLock<BTreeMap<&'static str, &'static str>> = OnceLock::new();
    PARTS.get_or_init(|| parse(TEMPLATE))
}

fn parse(template: &str) -> BTreeMap<&str, &str> {
    let mut parts = BTreeMap::new();
    let mut rest = template;
    while let Some(at) = rest.find("%% ") {
        let after = &rest[at + 3..];
        let name_end = after.find('\n').unwrap_or(after.len());
        let body = &after[(name_end + 1).min(after.len())..];
        let body_end = body.find("\n%% ").map_or(body.len(), |end| end + 1);
        parts.insert(
            after[..name_end].trim(),
            body[..body_end].trim_matches('\n'),
        );
        rest = &body[body_end..];
    }
    parts
}

/// The part `name` of the template; empty for a name it does not have (a test checks that
/// every name used is there).
fn part(name: &str) -> &'static str {
    parts().get(name).copied().unwrap_or_default()
}

/// The part `name` with its `{key}` placeholders replaced by `vars`, in one pass.
fn fill(name: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = part(name);
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let key = &after[..close];
            let value = vars.iter().find(|(k, _)| *k == key)?.1;
            Some((value, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every part the code uses, with the placeholders it fills.
    const USED: &[(&str, &[&str])] = &[
        ("prompt", &["subject", "changes"]),
        ("subject.uncommittedChanges", &["root"]),
        ("subject.baseBranch", &["base", "merge_base"]),
        ("subject.commit", &["root", "sha"]),
        ("subject.commitTitled", &["root", "sha", "title"]),
        ("subject.custom", &["instructions"]),
        ("section", &["title", "command", "fence", "diff"]),
        ("section.cut", &["omitted", "command"]),
        ("title.staged", &[]),
        ("title.unstaged", &[]),
        ("title.untracked", &[]),
        ("title.sinceMergeBase", &[]),
        ("title.commit", &[]),
        ("untracked.notShown", &["names"]),
        ("untracked.more", &["count"]),
    ];

    /// The `{word}` placeholders of a part.
    fn placeholders(text: &str) -> Vec<&str> {
        text.split('{')
            .skip(1)
            .filter_map(|piece| piece.split_once('}').map(|(key, _)| key))
            .filter(|key| key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .collect()
    }

    #[test]
    fn the_template_has_every_part_used_with_exactly_its_placeholders() {
        let parts = parse(TEMPLATE);
        let names: Vec<&str> = USED.iter().map(|(name, _)| *name).collect();
        assert_eq!(parts.keys().copied().collect::<Vec<_>>().len(), names.len());
        for (name, keys) in USED {
            let text = parts.get(name).unwrap_or_else(|| panic!("no part {name}"));
            let mut found = placeholders(text);
            found.sort_unstable();
            found.dedup();
            let mut expected = keys.to_vec();
            expected.sort_unstable();
            assert_eq!(found, expected, "part {name}");
        }
    }

    #[test]
    fn text_put_in_is_not_read_for_placeholders() {
        let prompt = render(
            Subject::Custom {
                instructions: "Check {changes} and {subject} stay as written.",
            },
            None,
        );
        assert!(prompt.contains("Check {changes} and {subject} stay as written."));
        assert!(!prompt.trim_end().ends_with("{changes}"), "{prompt}");
    }

    #[test]
    fn a_diff_gets_a_fence_it_cannot_close_and_a_cut_one_says_how_to_read_the_rest() {
        let material = Material {
            root: "/repo".into(),
            sections: vec![Section {
                kind: SectionKind::Unstaged,
                command: "git diff".into(),
                diff: "+```rust\n+fn main() {}\n".into(),
                omitted: 42,
            }],
            untracked_not_shown: vec!["big.bin".into()],
            untracked_unnamed: 3,
        };
        let prompt = render(Subject::Uncommitted { root: "/repo" }, Some(&material));
        assert!(
            prompt.contains("````diff\n+```rust\n+fn main() {}\n````\n"),
            "{prompt}"
        );
        assert!(prompt.contains("42 more bytes"), "{prompt}");
        assert!(
            prompt.contains("Run `git diff` in the repository"),
            "{prompt}"
        );
        assert!(prompt.ends_with("`big.bin`, and 3 more.\n"), "{prompt}");
        assert!(prompt.contains("`/repo`"), "{prompt}");
    }
}
