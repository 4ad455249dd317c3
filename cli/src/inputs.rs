//! A batch's inputs: files, directories (recursive, by the provider's image extensions) and
//! `@list.txt` files (one input per line), checked before anything is sent.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use piaoju::DocumentType;

/// The inputs, in order, each once (the images to recognize and the files a folder holds that
/// are skipped); and how many inputs named an image already listed.
#[derive(Debug, Default)]
pub struct Inputs {
    pub entries: Vec<Entry>,
    pub duplicates: usize,
}

/// One input of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An image to recognize.
    Image(PathBuf),
    /// A file a folder holds that the document type does not take, and why.
    Skipped { path: PathBuf, reason: String },
}

impl Entry {
    pub fn path(&self) -> &Path {
        match self {
            Entry::Image(p) | Entry::Skipped { path: p, .. } => p,
        }
    }
}

impl Inputs {
    /// The images to recognize, with their place among the entries.
    pub fn images(&self) -> impl Iterator<Item = (usize, &Path)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Entry::Image(p) => Some((i, p.as_path())),
                Entry::Skipped { .. } => None,
            })
    }

    /// The skipped files, with their place among the entries.
    pub fn skipped(&self) -> impl Iterator<Item = (usize, &Path, &str)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Entry::Skipped { path, reason } => Some((i, path.as_path(), reason.as_str())),
                Entry::Image(_) => None,
            })
    }
}

/// Expand `args`. A file is taken whatever its extension (it was named); a directory gives its
/// files with one of the extensions `document_type` accepts, recursively, in name order,
/// without following symbolic links to directories; `@FILE` reads one input per line (blank
/// lines and lines starting with `#` are skipped; relative paths are relative to the current
/// directory). Any input that does not exist, a list that cannot be read, or a directory that
/// cannot be listed is an error naming it.
pub fn expand(args: &[std::ffi::OsString], document_type: DocumentType) -> Result<Inputs, String> {
    let extensions = extensions(document_type);
    let mut found = Found {
        document_type: Some(document_type),
        ..Found::default()
    };
    for arg in args {
        match list_name(arg) {
            Some(list) => {
                let text = std::fs::read(&list)
                    .map_err(|e| format!("cannot read the input list {list:?}: {e}"))?;
                // File names are bytes: a list may name files in any encoding (Unix).
                for line in text.split(|&b| b == b'\n') {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    let trimmed = line.trim_ascii();
                    if trimmed.is_empty() || trimmed.starts_with(b"#") {
                        continue;
                    }
                    found
                        .add(&path_of_bytes(line)?, &extensions)
                        .map_err(|e| format!("{e} (listed in {list:?})"))?;
                }
            }
            None => found.add(Path::new(arg), &extensions)?,
        }
    }
    Ok(Inputs {
        entries: found.entries,
        duplicates: found.duplicates,
    })
}

/// Why a file a folder holds is not recognized: its format (read from its first bytes) and what
/// to do with it, or what the document type takes.
fn skip_reason(path: &Path, document_type: DocumentType) -> String {
    let mut head = [0u8; 32];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let takes = format!(
        "{} take {}",
        match document_type {
            DocumentType::UsedCarInvoice => "invoices",
            _ => "receipts",
        },
        extensions(document_type).join(", ")
    );
    match piaoju::ImageFormat::sniff(&head[..n]) {
        Some(format) if !document_type.image_formats().contains(&format) => format!(
            "{} is not accepted: {}",
            format.name().to_ascii_uppercase(),
            format.conversion_hint()
        ),
        // An image of a format it takes, under another name: it was not named, so it is
        // reported rather than sent.
        Some(format) => format!(
            "a {} image named {}: rename it to be recognized",
            format.name().to_ascii_uppercase(),
            path.extension().map_or_else(
                || "without an extension".into(),
                |e| format!(".{}", e.to_string_lossy())
            )
        ),
        None => takes,
    }
}

/// `@LIST`: the list's path.
fn list_name(arg: &OsStr) -> Option<PathBuf> {
    let rest = arg.as_encoded_bytes().strip_prefix(b"@")?;
    // SAFETY: `rest` is `arg` without its first byte, an ASCII character: still a valid
    // encoded OS string (the encoding splits only at ASCII boundaries).
    Some(PathBuf::from(unsafe {
        OsStr::from_encoded_bytes_unchecked(rest)
    }))
}

/// A path from a list's line: its bytes as they are on Unix; UTF-8 elsewhere.
fn path_of_bytes(line: &[u8]) -> Result<PathBuf, String> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(OsStr::from_bytes(line)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(line).map(PathBuf::from).map_err(|_| {
            format!(
                "a line of the input list is not UTF-8: {}",
                String::from_utf8_lossy(line)
            )
        })
    }
}

/// How an input is written in the results: its name as given when it is UTF-8; otherwise an
/// escaped form (`\xB7` for each byte that is not ASCII, `\\` for a backslash) and the exact
/// bytes in hex, so that the results can always be matched to the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputName {
    pub text: String,
    /// The name's bytes in hex, when the name is not UTF-8.
    pub bytes_hex: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The names of `paths` in the results, all different: a name that is not UTF-8 is escaped
/// (and its bytes given in hex); should an escaped name read like another input's name, it
/// is written as `\xNN` for every byte, and then, if need be, numbered.
pub fn input_names(paths: &[PathBuf]) -> Vec<InputName> {
    let mut names: Vec<InputName> = paths
        .iter()
        .map(|p| match p.to_str() {
            Some(text) => InputName {
                text: text.to_string(),
                bytes_hex: None,
            },
            None => {
                let bytes = p.as_os_str().as_encoded_bytes();
                InputName {
                    text: piaoju::bindings::display_path(p),
                    bytes_hex: Some(hex(bytes)),
                }
            }
        })
        .collect();
    let count = |names: &[InputName]| {
        let mut n = std::collections::HashMap::<String, usize>::new();
        for name in names {
            *n.entry(name.text.clone()).or_default() += 1;
        }
        n
    };
    let seen = count(&names);
    for (name, path) in names.iter_mut().zip(paths) {
        if name.bytes_hex.is_some() && seen[&name.text] > 1 {
            name.text = path
                .as_os_str()
                .as_encoded_bytes()
                .iter()
                .map(|b| format!("\\x{b:02X}"))
                .collect();
        }
    }
    let seen = count(&names);
    let mut numbered = std::collections::HashMap::<String, usize>::new();
    for name in names.iter_mut().filter(|n| n.bytes_hex.is_some()) {
        if seen[&name.text] > 1 {
            let n = numbered.entry(name.text.clone()).or_insert(1);
            *n += 1;
            name.text = format!("{} (#{n})", name.text);
        }
    }
    names
}

/// The file name extensions of the formats `document_type`'s provider accepts.
pub fn extensions(document_type: DocumentType) -> Vec<&'static str> {
    document_type
        .image_formats()
        .iter()
        .flat_map(|f| f.extensions().iter().copied())
        .collect()
}

#[derive(Default)]
struct Found {
    entries: Vec<Entry>,
    /// Each file's identity (its canonical path), and its entry.
    seen: HashMap<PathBuf, usize>,
    duplicates: usize,
    /// Set when files a folder holds that it does not take are reported (as skipped).
    document_type: Option<DocumentType>,
}

impl Found {
    fn add(&mut self, path: &Path, extensions: &[&str]) -> Result<(), String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("input {path:?}: {e}"))?;
        if meta.is_dir() {
            self.walk(path, extensions)
        } else {
            self.push(path.to_path_buf());
            Ok(())
        }
    }

    fn walk(&mut self, dir: &Path, extensions: &[&str]) -> Result<(), String> {
        let mut entries = std::fs::read_dir(dir)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot list the directory {dir:?}: {e}"))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| format!("input {path:?}: {e}"))?;
            if kind.is_dir() {
                self.walk(&path, extensions)?;
            } else if kind.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                // A symbolic link to a directory is not followed (no loops).
                self.skip(path, "a link to a folder (not followed)".into());
            } else if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                // Never opened: opening a named pipe would wait for a writer.
                self.skip(
                    path,
                    "not a regular file (a pipe, a socket, a device or a broken link)".into(),
                );
            } else if has_extension(&path, extensions) {
                self.push(path);
            } else if let Some(document_type) = self.document_type {
                let reason = skip_reason(&path, document_type);
                self.skip(path, reason);
            }
        }
        Ok(())
    }

    /// An image to recognize. A file a folder's walk skipped becomes one when it is named
    /// (in its place); one named twice counts as a duplicate.
    fn push(&mut self, path: PathBuf) {
        let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        match self.seen.get(&identity) {
            Some(&i) if matches!(self.entries[i], Entry::Skipped { .. }) => {
                self.entries[i] = Entry::Image(path);
            }
            Some(_) => self.duplicates += 1,
            None => {
                self.seen.insert(identity, self.entries.len());
                self.entries.push(Entry::Image(path));
            }
        }
    }

    fn skip(&mut self, path: PathBuf, reason: String) {
        let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if let std::collections::hash_map::Entry::Vacant(v) = self.seen.entry(identity) {
            v.insert(self.entries.len());
            self.entries.push(Entry::Skipped { path, reason });
        }
    }
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("piaoju-inputs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn directories_by_extension_lists_and_duplicates() {
        let d = scratch("mix");
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        for f in [
            "b.png",
            "a.JPG",
            "notes.txt",
            "scan.pdf",
            "sub/c.bmp",
            "sub/deeper/d.jpeg",
        ] {
            std::fs::write(d.join(f), b"x").unwrap();
        }
        let list = d.join("list.txt");
        std::fs::write(
            &list,
            format!(
                "# receipts\n\n{}\r\n{}\n",
                d.join("notes.txt").display(),
                d.join("b.png").display()
            ),
        )
        .unwrap();
        let args = vec![
            d.clone().into_os_string(),
            format!("@{}", list.display()).into(),
        ];
        let got = expand(&args, DocumentType::ShoppingReceipt).unwrap();
        let relative = |p: &Path| p.strip_prefix(&d).unwrap().display().to_string();
        let names: Vec<String> = got.images().map(|(_, p)| relative(p)).collect();
        // Receipts: jpg, jpeg, png, bmp; a named file is taken whatever its extension, in the
        // place the folder's walk gave it.
        assert_eq!(
            names,
            [
                "a.JPG",
                "b.png",
                "notes.txt",
                "sub/c.bmp",
                "sub/deeper/d.jpeg",
            ]
        );
        assert_eq!(got.duplicates, 1);
        // The folder's other files are skipped, and say why (list.txt and scan.pdf).
        let skipped: Vec<(String, &str)> = got
            .skipped()
            .map(|(_, p, why)| (relative(p), why))
            .collect();
        assert_eq!(
            skipped,
            [
                ("list.txt".to_string(), "receipts take jpg, jpeg, png, bmp"),
                ("scan.pdf".to_string(), "receipts take jpg, jpeg, png, bmp"),
            ]
        );
        let invoices = expand(&[d.clone().into_os_string()], DocumentType::UsedCarInvoice).unwrap();
        let images: Vec<_> = invoices.images().map(|(_, p)| relative(p)).collect();
        assert_eq!(images, ["a.JPG", "b.png", "scan.pdf", "sub/deeper/d.jpeg"]);
        assert_eq!(invoices.skipped().count(), 3); // list.txt notes.txt sub/c.bmp
        let _ = std::fs::remove_dir_all(&d);
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_are_kept_apart_and_listed_as_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let d = scratch("gbk");
        // 发票1.png and 单票1.png in GBK: both read as "??1.png" once decoded lossily.
        let fapiao = d.join(OsStr::from_bytes(b"\xb7\xa2\xc6\xb11.png"));
        let danpiao = d.join(OsStr::from_bytes(b"\xb5\xa5\xc6\xb11.png"));
        let literal = d.join("a\\xB7.png");
        for p in [&fapiao, &danpiao, &literal] {
            std::fs::write(p, b"x").unwrap();
        }
        let list = d.join("list.txt");
        let mut text = fapiao.as_os_str().as_bytes().to_vec();
        text.extend_from_slice(b"\r\n");
        std::fs::write(&list, &text).unwrap();
        let mut list_arg = std::ffi::OsString::from("@");
        list_arg.push(&list);
        let got = expand(
            &[d.clone().into_os_string(), list_arg],
            DocumentType::ShoppingReceipt,
        )
        .unwrap();
        let images: Vec<PathBuf> = got.images().map(|(_, p)| p.to_path_buf()).collect();
        assert_eq!(images.len(), 3, "{images:?}");
        assert_eq!(got.duplicates, 1, "the listed file is the folder's");
        let names = input_names(&images);
        let texts: std::collections::HashSet<_> = names.iter().map(|n| n.text.clone()).collect();
        assert_eq!(texts.len(), 3, "{names:?}");
        let dir = d.display().to_string();
        let f = names
            .iter()
            .find(|n| {
                n.bytes_hex
                    .as_deref()
                    .is_some_and(|h| h.ends_with("b7a2c6b1312e706e67"))
            })
            .unwrap();
        assert_eq!(f.text, format!("{dir}/\\xB7\\xA2\\xC6\\xB11.png"));
        assert!(names
            .iter()
            .any(|n| n.text == format!("{dir}/a\\xB7.png") && n.bytes_hex.is_none()));
        // An escaped name that reads like another input's name is written byte by byte.
        let clash = vec![
            PathBuf::from("a\\xB7"),
            PathBuf::from(OsStr::from_bytes(b"a\xb7")),
        ];
        let names = input_names(&clash);
        assert_eq!(names[0].text, "a\\xB7");
        assert_eq!(names[1].text, "\\x61\\xB7");
        assert_eq!(names[1].bytes_hex.as_deref(), Some("61b7"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_missing_input_or_list_is_an_error_naming_it() {
        let d = scratch("missing");
        let e = expand(
            &[d.join("nope.png").into_os_string()],
            DocumentType::ShoppingReceipt,
        )
        .unwrap_err();
        assert!(e.contains("nope.png"), "{e}");
        let e = expand(
            &[format!("@{}", d.join("list.txt").display()).into()],
            DocumentType::ShoppingReceipt,
        )
        .unwrap_err();
        assert!(e.contains("input list") && e.contains("list.txt"), "{e}");
        let list = d.join("list.txt");
        std::fs::write(&list, "gone.png\n").unwrap();
        let e = expand(
            &[format!("@{}", list.display()).into()],
            DocumentType::ShoppingReceipt,
        )
        .unwrap_err();
        assert!(e.contains("gone.png") && e.contains("listed in"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
