//! Agent definition files: Claude-Code-style Markdown with YAML front matter, or TOML.
//!
//! A definition says who the agent is (`name`, `description`), which tools it expects
//! (`tools`), which model (`model`) and its instructions (the Markdown body, or `prompt` in
//! TOML). It grants nothing: what the agent may touch is the policy's job. Its exact bytes
//! are part of the consent checksum, and [`Definition::parse`] parses the very bytes that
//! were hashed; this module never reads a file a second time.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A parsed definition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// The file (absolute).
    pub path: PathBuf,
    /// Its exact bytes, as read once and hashed.
    pub bytes: Vec<u8>,
    /// `name`, when the file gives one.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `tools`, in the order written.
    pub tools: Vec<String>,
    /// `model`.
    pub model: Option<String>,
    /// The instructions: the Markdown body, or `prompt` in TOML.
    pub prompt: String,
}

/// Why a definition file is not valid.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The file name ends in neither `.md` nor `.toml`.
    #[error(
        "{}: unknown definition format: name it *.md (Markdown with YAML front matter) or *.toml",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("{}: definition is not valid UTF-8", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// A Markdown file without `---` front matter on its first line.
    #[error(
        "{}: no front matter: a Markdown definition starts with a `---` line, YAML keys, and a closing `---` line",
        path.display()
    )]
    NoFrontMatter {
        /// The file.
        path: PathBuf,
    },
    /// The front matter is not valid YAML of the expected shape.
    #[error("{}:{line}:{column}: front matter: {message}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The TOML is not valid or has unexpected keys.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What the parser said.
        message: String,
    },
}

/// Keys shared by both formats. Markdown front matter may carry other keys (Claude Code
/// adds some, such as `color`); they are ignored there but still covered by the checksum.
#[derive(Debug, Deserialize)]
struct FrontMatter {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tools: Option<Tools>,
    model: Option<String>,
}

/// TOML definitions are ours, so unknown keys are errors (a typo is not silently dropped).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlDefinition {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tools: Option<Tools>,
    model: Option<String>,
    #[serde(default)]
    prompt: String,
}

/// Claude Code writes `tools: Read, Grep, Glob`; a YAML or TOML list is accepted too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Tools {
    Text(String),
    List(Vec<String>),
}

impl Tools {
    fn into_vec(self) -> Vec<String> {
        match self {
            Tools::Text(s) => s
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect(),
            Tools::List(v) => v,
        }
    }
}

impl Definition {
    /// Parse a definition from the bytes read from `path`; the format follows the extension.
    ///
    /// # Errors
    /// A [`DefinitionError`] naming the file, and the line and column where they are known.
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Definition, DefinitionError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let text = std::str::from_utf8(&bytes).map_err(|_| DefinitionError::NotUtf8 {
            path: path.to_path_buf(),
        })?;
        let (fm, prompt) = match ext {
            "md" | "markdown" => parse_markdown(path, text)?,
            "toml" => {
                let d: TomlDefinition = toml::from_str(text).map_err(|e| {
                    let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
                    DefinitionError::Toml {
                        path: path.to_path_buf(),
                        line,
                        column,
                        message: e.message().trim().trim_end_matches('.').to_string(),
                    }
                })?;
                (
                    FrontMatter {
                        name: d.name,
                        description: d.description,
                        tools: d.tools,
                        model: d.model,
                    },
                    d.prompt,
                )
            }
            _ => {
                return Err(DefinitionError::UnknownFormat {
                    path: path.to_path_buf(),
                });
            }
        };
        Ok(Definition {
            path: path.to_path_buf(),
            name: fm.name,
            description: fm.description,
            tools: fm.tools.map(Tools::into_vec).unwrap_or_default(),
            model: fm.model,
            prompt,
            bytes,
        })
    }
}

/// Split `---\nYAML\n---\nbody` and parse the YAML.
fn parse_markdown(path: &Path, text: &str) -> Result<(FrontMatter, String), DefinitionError> {
    let no_fm = || DefinitionError::NoFrontMatter {
        path: path.to_path_buf(),
    };
    let text_nobom = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text_nobom.split_inclusive('\n');
    let first = lines.next().ok_or_else(no_fm)?;
    if first.trim_end() != "---" {
        return Err(no_fm());
    }
    let yaml_start = first.len();
    let mut offset = yaml_start;
    let mut yaml_end = None;
    for line in lines {
        if line.trim_end() == "---" {
            yaml_end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let (yaml_end, body_start) = yaml_end.ok_or_else(no_fm)?;
    let yaml = &text_nobom[yaml_start..yaml_end];
    let fm: FrontMatter = if yaml.trim().is_empty() {
        FrontMatter {
            name: None,
            description: None,
            tools: None,
            model: None,
        }
    } else {
        serde_norway::from_str(yaml).map_err(|e| {
            // The YAML starts on the file's second line.
            let (line, column) = e.location().map_or((0, 0), |l| (l.line() + 1, l.column()));
            DefinitionError::Yaml {
                path: path.to_path_buf(),
                line,
                column,
                message: strip_location(&e.to_string()),
            }
        })?
    };
    Ok((fm, text_nobom[body_start..].trim().to_string()))
}

/// serde_norway appends "at line L column C" relative to the YAML block; we give the
/// file's own position instead.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn md(text: &str) -> Result<Definition, DefinitionError> {
        Definition::parse(Path::new("/a/reviewer.md"), text.as_bytes().to_vec())
    }

    #[test]
    fn claude_code_markdown() {
        let d = md("---\nname: reviewer\ndescription: Reviews code\ntools: Read, Grep,  Glob\nmodel: sonnet\ncolor: blue\n---\n\nYou review code.\n")
            .unwrap();
        assert_eq!(d.name.as_deref(), Some("reviewer"));
        assert_eq!(d.description.as_deref(), Some("Reviews code"));
        assert_eq!(d.tools, vec!["Read", "Grep", "Glob"]);
        assert_eq!(d.model.as_deref(), Some("sonnet"));
        assert_eq!(d.prompt, "You review code.");
    }

    #[test]
    fn tools_as_yaml_list() {
        let d = md("---\ntools:\n  - Read\n  - Bash\n---\nx").unwrap();
        assert_eq!(d.tools, vec!["Read", "Bash"]);
    }

    #[test]
    fn markdown_without_front_matter_is_an_error() {
        let e = md("# Reviewer\n").unwrap_err();
        assert!(matches!(e, DefinitionError::NoFrontMatter { .. }), "{e}");
        let e = md("---\nname: x\n").unwrap_err();
        assert!(matches!(e, DefinitionError::NoFrontMatter { .. }), "{e}");
    }

    #[test]
    fn yaml_error_points_into_the_file() {
        let e = md("---\nname: x\ntools: [Read\n---\nbody\n").unwrap_err();
        match e {
            DefinitionError::Yaml { line, .. } => assert!(line >= 3, "line {line}"),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn toml_definition() {
        let d = Definition::parse(
            Path::new("/a/r.toml"),
            b"name = \"r\"\ntools = [\"Read\"]\nprompt = \"Be brief.\"\n".to_vec(),
        )
        .unwrap();
        assert_eq!(d.name.as_deref(), Some("r"));
        assert_eq!(d.tools, vec!["Read"]);
        assert_eq!(d.prompt, "Be brief.");
    }

    #[test]
    fn toml_unknown_key_is_located() {
        let e = Definition::parse(
            Path::new("/a/r.toml"),
            b"name = \"r\"\ntoolz = []\n".to_vec(),
        )
        .unwrap_err();
        match e {
            DefinitionError::Toml { line, column, .. } => assert_eq!((line, column), (2, 1)),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn other_extensions_are_refused() {
        let e = Definition::parse(Path::new("/a/r.txt"), b"x".to_vec()).unwrap_err();
        assert!(matches!(e, DefinitionError::UnknownFormat { .. }));
    }
}
