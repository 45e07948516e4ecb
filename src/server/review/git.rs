//! What a review is given about its target, read from git: the repository, the diffs and
//! the names that go into the prompt. Git runs through `process::capture`, in the
//! repository's top directory, bounded in time and output; nothing here writes to the
//! repository (no optional locks, no index refresh).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::EnvPolicy;
use crate::process::capture::{self, Captured, Limits};

/// The most bytes of diff a review prompt carries, over all its sections: a prompt given
/// as one command-line argument must stay well under Linux's 128 KiB per argument.
pub(super) const DIFF_BUDGET: usize = 60 * 1024;
/// The most untracked files shown with their content; further ones are named only.
const MAX_UNTRACKED_SHOWN: usize = 100;
/// The most untracked files named.
const MAX_UNTRACKED_NAMED: usize = 200;
/// How long one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The most bytes of a list of names (`ls-files`) or of a commit's header read.
const LIST_BYTES: usize = 1024 * 1024;

/// Why a review cannot be given its material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum GitError {
    /// The working directory is not inside a git work tree (git's words in `detail`).
    NotARepository {
        cwd: String,
        detail: String,
    },
    CommitNotFound(String),
    BranchNotFound(String),
    /// HEAD and the branch have no common ancestor.
    NoMergeBase(String),
    /// The target holds no change.
    NothingToReview(String),
    /// Git could not be run, or failed in a way that is not the client's doing.
    Failed(String),
}

/// One diff of a review, with the command that shows it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Section {
    pub kind: SectionKind,
    /// The git command line, as a person would type it in the repository.
    pub command: String,
    pub diff: String,
    /// Bytes of the diff left out to keep within [`DIFF_BUDGET`].
    pub omitted: usize,
}

impl Section {
    /// Whether git printed nothing at all (not even past the budget).
    fn is_empty(&self) -> bool {
        self.diff.is_empty() && self.omitted == 0
    }
}

/// Which diff a [`Section`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SectionKind {
    Staged,
    Unstaged,
    Untracked,
    SinceMergeBase,
    Commit,
}

/// What git says about a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Material {
    /// The repository's top directory.
    pub root: String,
    pub sections: Vec<Section>,
    /// Untracked files whose content is not shown (past the limits).
    pub untracked_not_shown: Vec<String>,
    /// How many more untracked files there are than are named.
    pub untracked_unnamed: usize,
}

/// A base branch resolved for a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BaseBranch {
    /// The ref compared with: the branch's upstream when it has one, else the branch.
    pub base: String,
    pub merge_base: String,
}

/// A commit resolved for a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Commit {
    pub sha: String,
    /// The first line of its message.
    pub subject: String,
}

/// Git, run in one repository.
pub(super) struct Git {
    root: PathBuf,
    /// Diff bytes still allowed in the prompt.
    budget: usize,
}

impl Git {
    /// The repository that `cwd` is in.
    pub fn open(cwd: &str) -> Result<Git, GitError> {
        let found = run(
            Path::new(cwd),
            &["rev-parse", "--show-toplevel"],
            LIST_BYTES,
        )?;
        if !found.status.success() {
            return Err(GitError::NotARepository {
                cwd: cwd.to_owned(),
                detail: first_line(&found.stderr),
            });
        }
        Ok(Git {
            root: PathBuf::from(text(&found.stdout).trim_end_matches('\n')),
            budget: DIFF_BUDGET,
        })
    }

    pub fn root(&self) -> String {
        self.root.display().to_string()
    }

    /// The staged, unstaged and untracked changes of the work tree.
    pub fn uncommitted(mut self) -> Result<Material, GitError> {
        let mut sections = Vec::new();
        for (kind, args) in [
            (SectionKind::Staged, &["diff", "--cached"][..]),
            (SectionKind::Unstaged, &["diff"][..]),
        ] {
            let section = self.diff(kind, args, Accept::Zero)?;
            // A diff past the budget still has its section, saying how to read it.
            if !section.is_empty() {
                sections.push(section);
            }
        }
        let untracked = self.untracked_files()?;
        let (shown, not_shown) = self.untracked_diffs(&untracked)?;
        if let Some(section) = shown {
            sections.push(section);
        }
        if sections.is_empty() && not_shown.is_empty() {
            return Err(GitError::NothingToReview(format!(
                "no uncommitted changes in {}",
                self.root()
            )));
        }
        let named = not_shown.len().min(MAX_UNTRACKED_NAMED);
        Ok(Material {
            root: self.root(),
            sections,
            untracked_unnamed: not_shown.len() - named,
            untracked_not_shown: not_shown.into_iter().take(named).collect(),
        })
    }

    /// The changes since the merge base of HEAD and `branch` (its upstream when it has one),
    /// up to the work tree.
    pub fn against_branch(mut self, branch: &str) -> Result<(BaseBranch, Material), GitError> {
        let not_found = || GitError::BranchNotFound(branch.to_owned());
        if branch.starts_with('-') {
            return Err(not_found());
        }
        let upstream = format!("{branch}@{{upstream}}");
        let base = match self.resolve(&upstream)? {
            Some(_) => self.abbreviated(&upstream)?.unwrap_or(upstream),
            None => branch.to_owned(),
        };
        let base_sha = self
            .resolve(&format!("{base}^{{commit}}"))?
            .ok_or_else(not_found)?;
        let found = self.git(&["merge-base", "HEAD", &base_sha], LIST_BYTES)?;
        if !found.status.success() {
            return Err(GitError::NoMergeBase(branch.to_owned()));
        }
        let merge_base = text(&found.stdout).trim().to_owned();
        let section = self.diff(
            SectionKind::SinceMergeBase,
            &["diff", &merge_base],
            Accept::Zero,
        )?;
        if section.is_empty() {
            return Err(GitError::NothingToReview(format!(
                "no changes against {branch}"
            )));
        }
        let material = self.material(vec![section]);
        Ok((BaseBranch { base, merge_base }, material))
    }

    /// One commit: its message and its changes (a merge against its first parent).
    pub fn commit(mut self, sha: &str) -> Result<(Commit, Material), GitError> {
        let not_found = || GitError::CommitNotFound(sha.to_owned());
        if sha.starts_with('-') {
            return Err(not_found());
        }
        let full = self
            .resolve(&format!("{sha}^{{commit}}"))?
            .ok_or_else(not_found)?;
        let subject = self.checked(&["show", "--no-patch", "--format=%s", &full], LIST_BYTES)?;
        let header = self.diff(
            SectionKind::Commit,
            &["show", "--no-patch", "--format=medium", &full],
            Accept::Zero,
        )?;
        let mut section = self.diff(
            SectionKind::Commit,
            &[
                "show",
                "--format=",
                "--patch",
                "--diff-merges=first-parent",
                &full,
            ],
            Accept::Zero,
        )?;
        if section.is_empty() {
            return Err(GitError::NothingToReview(format!(
                "commit {} changes no file",
                short(&full)
            )));
        }
        section.command = format!("git show {full}");
        section.diff = format!("{}\n{}", header.diff, section.diff);
        let commit = Commit {
            sha: full,
            subject: text(&subject.stdout).trim().to_owned(),
        };
        Ok((commit, self.material(vec![section])))
    }

    fn material(&self, sections: Vec<Section>) -> Material {
        Material {
            root: self.root(),
            sections,
            untracked_not_shown: Vec::new(),
            untracked_unnamed: 0,
        }
    }

    /// The full sha `rev` names, `None` when it names nothing.
    fn resolve(&self, rev: &str) -> Result<Option<String>, GitError> {
        let found = self.git(
            &["rev-parse", "--verify", "--quiet", "--end-of-options", rev],
            LIST_BYTES,
        )?;
        Ok(found
            .status
            .success()
            .then(|| text(&found.stdout).trim().to_owned()))
    }

    /// The short name of a ref (`origin/main` for `main@{upstream}`).
    fn abbreviated(&self, rev: &str) -> Result<Option<String>, GitError> {
        let found = self.git(
            &["rev-parse", "--abbrev-ref", "--end-of-options", rev],
            LIST_BYTES,
        )?;
        let name = text(&found.stdout).trim().to_owned();
        Ok((found.status.success() && !name.is_empty()).then_some(name))
    }

    /// Untracked files that are not ignored, relative to the top directory.
    fn untracked_files(&self) -> Result<Vec<String>, GitError> {
        let listed = self.checked(
            &["ls-files", "--others", "--exclude-standard", "-z"],
            LIST_BYTES,
        )?;
        Ok(listed
            .stdout
            .split(|byte| *byte == 0)
            .filter(|name| !name.is_empty())
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect())
    }

    /// The untracked files as new-file diffs while the budget lasts; the others by name.
    fn untracked_diffs(
        &mut self,
        files: &[String],
    ) -> Result<(Option<Section>, Vec<String>), GitError> {
        let mut diff = String::new();
        let mut omitted = 0;
        let mut not_shown = Vec::new();
        for (position, file) in files.iter().enumerate() {
            if self.budget == 0 || position >= MAX_UNTRACKED_SHOWN {
                not_shown.push(file.clone());
                continue;
            }
            let args = ["diff", "--no-index", "--", "/dev/null", file.as_str()];
            // `--no-index` exits 1 when the files differ, which a new file always does.
            let section = self.diff(SectionKind::Untracked, &args, Accept::ZeroOrOne)?;
            if section.diff.is_empty() {
                not_shown.push(file.clone());
                continue;
            }
            diff.push_str(&section.diff);
            omitted += section.omitted;
        }
        let section = (!diff.is_empty()).then(|| Section {
            kind: SectionKind::Untracked,
            command: "git diff --no-index -- /dev/null <file>".to_owned(),
            diff,
            omitted,
        });
        Ok((section, not_shown))
    }

    /// One diff, cut to what is left of the budget at a line's end.
    fn diff(
        &mut self,
        kind: SectionKind,
        args: &[&str],
        accept: Accept,
    ) -> Result<Section, GitError> {
        let mut full_args: Vec<&str> = Vec::with_capacity(args.len() + 3);
        full_args.push(args[0]);
        full_args.extend(["--no-color", "--no-ext-diff", "--no-textconv"]);
        full_args.extend(&args[1..]);
        let done = self.git(&full_args, self.budget)?;
        if !accept.accepts(&done) {
            return Err(failed(args, &done));
        }
        let (diff, cut) = cut_at_line(&done.stdout);
        let omitted = done.stdout_omitted + cut;
        // A diff that did not fit leaves nothing for the next: no half diffs after it.
        self.budget = match omitted {
            0 => self.budget.saturating_sub(diff.len()),
            _ => 0,
        };
        Ok(Section {
            kind,
            command: format!("git {}", args.join(" ")),
            diff,
            omitted,
        })
    }

    /// A git command that must succeed.
    fn checked(&self, args: &[&str], keep: usize) -> Result<Captured, GitError> {
        let done = self.git(args, keep)?;
        if done.status.success() {
            Ok(done)
        } else {
            Err(failed(args, &done))
        }
    }

    fn git(&self, args: &[&str], keep: usize) -> Result<Captured, GitError> {
        run(&self.root, args, keep)
    }
}

/// Which exit codes of a diff mean success.
#[derive(Debug, Clone, Copy)]
enum Accept {
    Zero,
    ZeroOrOne,
}

impl Accept {
    fn accepts(self, done: &Captured) -> bool {
        match (self, done.status.code()) {
            (_, Some(0)) | (Accept::ZeroOrOne, Some(1)) => true,
            (Accept::Zero, _) | (Accept::ZeroOrOne, _) => false,
        }
    }
}

/// Runs `git ARGS` in `dir`, keeping `keep` bytes of its output. Git reads no terminal, no
/// pager and no repository the server's environment points at.
fn run(dir: &Path, args: &[&str], keep: usize) -> Result<Captured, GitError> {
    let mut argv: Vec<OsString> = vec![
        "--no-pager".into(),
        "--no-optional-locks".into(),
        "-c".into(),
        "core.quotePath=false".into(),
    ];
    argv.extend(args.iter().map(OsString::from));
    let env = EnvPolicy::Inherit {
        set: vec![
            ("GIT_TERMINAL_PROMPT".into(), "0".into()),
            ("LC_ALL".into(), "C".into()),
        ],
        remove: [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_OBJECT_DIRECTORY",
        ]
        .into_iter()
        .map(OsString::from)
        .collect(),
    };
    let limits = Limits {
        stdout_bytes: keep,
        stderr_bytes: 4096,
        timeout: GIT_TIMEOUT,
    };
    capture::run(Path::new("git"), &argv, dir, env, limits)
        .map_err(|err| GitError::Failed(format!("cannot run git {}: {err}", args[0])))
}

fn failed(args: &[&str], done: &Captured) -> GitError {
    GitError::Failed(format!(
        "git {} failed ({}): {}",
        args[0],
        done.status,
        first_line(&done.stderr)
    ))
}

/// The kept output up to its last complete line, and how many bytes were cut after it.
fn cut_at_line(bytes: &[u8]) -> (String, usize) {
    let end = match bytes.last() {
        None | Some(b'\n') => bytes.len(),
        Some(_) => bytes
            .iter()
            .rposition(|byte| *byte == b'\n')
            .map_or(0, |at| at + 1),
    };
    (text(&bytes[..end]), bytes.len() - end)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn first_line(bytes: &[u8]) -> String {
    text(bytes)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The first seven characters of a sha, as people write it.
pub(super) fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_diff_ends_at_a_line_and_counts_the_rest() {
        assert_eq!(cut_at_line(b"a\nb\n"), ("a\nb\n".to_owned(), 0));
        assert_eq!(cut_at_line(b"a\nbc"), ("a\n".to_owned(), 2));
        assert_eq!(cut_at_line(b"abc"), (String::new(), 3));
        assert_eq!(cut_at_line(b""), (String::new(), 0));
    }
}
