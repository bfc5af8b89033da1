//! Links the `flowrun` binary with packed relative relocations (`-z pack-relative-relocs`,
//! `DT_RELR`) when the C library it is built against can load them: glibc 2.36 or newer.
//!
//! Why: the binary carries some 39,000 relative relocations (its dependencies' vtables and
//! tables of strings). In the usual form they fill 940 KB that the loader reads and applies
//! at every start; packed, a few kilobytes. A `flowrun run` starts about a millisecond sooner
//! (docs/engine.md, "Cold start").
//!
//! A binary so linked needs glibc 2.36 to start. It is done only for a native build against
//! glibc 2.36 or newer: such a build already needs the host's recent symbols
//! (`__libc_start_main@GLIBC_2.34` …), and the rule of every Linux binary holds unchanged:
//! build on the oldest system it must run on. `FLOWRUN_RELR=0` turns it off.

fn main() {
    println!("cargo:rerun-if-env-changed=FLOWRUN_RELR");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("FLOWRUN_RELR").as_deref() == Ok("0") {
        return;
    }
    let (Ok(host), Ok(target)) = (std::env::var("HOST"), std::env::var("TARGET")) else {
        return;
    };
    if host != target || !target.ends_with("-linux-gnu") {
        return;
    }
    if host_glibc().is_some_and(|version| version >= (2, 36)) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The version of the host's glibc, e.g. `(2, 36)`, as `getconf GNU_LIBC_VERSION` says it
/// ("glibc 2.36"); `None` on another C library or when getconf is missing.
fn host_glibc() -> Option<(u32, u32)> {
    let output = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    let text = String::from_utf8(output.stdout).ok()?;
    let version = text.trim().strip_prefix("glibc ")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
