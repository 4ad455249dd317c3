//! A batch's inputs: files, directories (recursive, by the provider's image extensions) and
//! `@list.txt` files (one input per line), checked before anything is sent.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use piaoju::DocumentType;

/// The images to recognize, in order, each once; and how many inputs named an image already
/// listed.
#[derive(Debug, Default)]
pub struct Inputs {
    pub images: Vec<PathBuf>,
    pub duplicates: usize,
}

/// Expand `args`. A file is taken whatever its extension (it was named); a directory gives its
/// files with one of the extensions `document_type` accepts, recursively, in name order,
/// without following symbolic links to directories; `@FILE` reads one input per line (blank
/// lines and lines starting with `#` are skipped; relative paths are relative to the current
/// directory). Any input that does not exist, a list that cannot be read, or a directory that
/// cannot be listed is an error naming it.
pub fn expand(args: &[std::ffi::OsString], document_type: DocumentType) -> Result<Inputs, String> {
    let extensions = extensions(document_type);
    let mut found = Found::default();
    for arg in args {
        match arg.to_str().and_then(|s| s.strip_prefix('@')) {
            Some(list) => {
                let text = std::fs::read_to_string(list)
                    .map_err(|e| format!("cannot read the input list {list:?}: {e}"))?;
                for line in text.lines() {
                    let line = line.trim_end_matches('\r');
                    if line.trim().is_empty() || line.trim_start().starts_with('#') {
                        continue;
                    }
                    found
                        .add(Path::new(line), &extensions)
                        .map_err(|e| format!("{e} (listed in {list:?})"))?;
                }
            }
            None => found.add(Path::new(arg), &extensions)?,
        }
    }
    Ok(Inputs {
        images: found.images,
        duplicates: found.duplicates,
    })
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
    images: Vec<PathBuf>,
    seen: HashSet<PathBuf>,
    duplicates: usize,
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
            } else if has_extension(&path, extensions) {
                // A symbolic link to a file counts; one to a directory is not followed (no loops).
                if kind.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                    continue;
                }
                self.push(path);
            }
        }
        Ok(())
    }

    fn push(&mut self, path: PathBuf) {
        let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.seen.insert(identity) {
            self.images.push(path);
        } else {
            self.duplicates += 1;
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
        let names: Vec<String> = got
            .images
            .iter()
            .map(|p| p.strip_prefix(&d).unwrap().display().to_string())
            .collect();
        // Receipts: jpg, jpeg, png, bmp; a named file is taken whatever its extension.
        assert_eq!(
            names,
            [
                "a.JPG",
                "b.png",
                "sub/c.bmp",
                "sub/deeper/d.jpeg",
                "notes.txt"
            ]
        );
        assert_eq!(got.duplicates, 1);
        let invoices = expand(&[d.clone().into_os_string()], DocumentType::UsedCarInvoice).unwrap();
        assert_eq!(invoices.images.len(), 4, "{:?}", invoices.images); // a.JPG b.png scan.pdf d.jpeg
        assert!(invoices.images.iter().any(|p| p.ends_with("scan.pdf")));
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
