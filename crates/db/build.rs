use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

fn main() {
    // embed_migrations! does not see new migration files without this.
    println!("cargo:rerun-if-changed=../../migrations");
    // A fingerprint of every migration file, so test templates are rebuilt when one changes.
    let mut files = Vec::new();
    collect(Path::new("../../migrations"), &mut files);
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.hash(&mut hasher);
        std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    println!(
        "cargo:rustc-env=CRM_MIGRATIONS_FINGERPRINT={:016x}",
        hasher.finish()
    );
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
