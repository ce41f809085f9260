// The one build-script module shared by `netfilter-queue-sys` and `netfilter-log-sys`.
//
// Each sys crate holds a symbolic link `build/sys_build.rs` to this file, so the logic exists
// once in the repository while each published package still carries a copy (Cargo packages the
// link's target). The crate's own `build.rs` holds only what differs: package names, headers,
// allowlists, the constants newer than some installed headers and where its saved bindings are.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process;

/// What a sys crate builds against.
pub struct Library {
    /// pkg-config module name, e.g. `libnetfilter_queue`.
    pub pkg_config_name: &'static str,
    /// Oldest version we support (the one the crate is tested on).
    pub min_version: &'static str,
    /// Package names per distribution: Debian/Ubuntu, Fedora, Arch, Alpine.
    pub debian: &'static str,
    pub fedora: &'static str,
    pub arch: &'static str,
    pub alpine: &'static str,
    /// The bindings saved in the crate for docs.rs, relative to the crate root (the build
    /// script's working directory). The crate's `saved_bindings` test keeps them fresh.
    pub saved_bindings: &'static str,
}

/// A constant that the kernel has but an installed uapi header may lack.
///
/// When bindgen's output lacks `name`, it is appended as `pub const name: ty = value;`; when it
/// has it, the build checks that the header agrees with `value`.
pub struct Supplement {
    pub name: &'static str,
    pub ty: &'static str,
    pub value: u32,
    /// The kernel version that introduced it, for the doc comment.
    pub since: &'static str,
}

const ENV_VARS: &[&str] = &[
    "PKG_CONFIG",
    "PKG_CONFIG_PATH",
    "PKG_CONFIG_LIBDIR",
    "PKG_CONFIG_SYSROOT_DIR",
    "LIBCLANG_PATH",
    "BINDGEN_EXTRA_CLANG_ARGS",
];

/// On docs.rs, copies the saved bindings to `OUT_DIR/bindings.rs` and returns `true`; elsewhere
/// returns `false` and the build script goes on to probe and generate.
///
/// docs.rs sets `DOCS_RS` and has clang but none of the C libraries' -dev packages (and no
/// network), so with it set pkg-config, libclang and bindgen are not touched and no link
/// directive is printed: rustdoc links nothing.
pub fn use_saved_bindings_on_docs_rs(lib: &Library) -> bool {
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    if env::var_os("DOCS_RS").is_none() {
        return false;
    }
    println!("cargo:rerun-if-changed={}", lib.saved_bindings);
    match fs::read_to_string(lib.saved_bindings) {
        Ok(saved) => write_bindings(&saved),
        Err(err) => fail(&format!(
            "DOCS_RS is set, so the saved bindings {} are used instead of bindgen, but they \
             cannot be read: {err}",
            lib.saved_bindings
        )),
    }
    true
}

/// Finds `lib` with pkg-config, prints the link lines and the `DEP_*` metadata, and returns the
/// include paths. On failure the build stops with a message naming the packages to install.
pub fn probe(lib: &Library) -> Vec<PathBuf> {
    for var in ENV_VARS {
        println!("cargo:rerun-if-env-changed={var}");
    }
    match pkg_config::Config::new()
        .atleast_version(lib.min_version)
        .probe(lib.pkg_config_name)
    {
        Ok(found) => {
            // Read by dependents' build scripts as DEP_<LINKS>_VERSION / _INCLUDE.
            println!("cargo:version={}", found.version);
            let includes: Vec<String> = found
                .include_paths
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            println!("cargo:include={}", includes.join(":"));
            found.include_paths
        }
        Err(err) => fail(&missing_library_message(lib, &err.to_string())),
    }
}

fn missing_library_message(lib: &Library, cause: &str) -> String {
    let mut msg = String::new();
    let _ = writeln!(
        msg,
        "\n{name} >= {min} was not found by pkg-config, so {krate} cannot be built.\n",
        name = lib.pkg_config_name,
        min = lib.min_version,
        krate = env::var("CARGO_PKG_NAME").unwrap_or_default(),
    );
    msg.push_str(&install_hint(lib));
    let _ = writeln!(
        msg,
        "If it is installed somewhere pkg-config does not look, point PKG_CONFIG_PATH at the \
         folder holding {name}.pc (PKG_CONFIG names the pkg-config binary, \
         PKG_CONFIG_SYSROOT_DIR a sysroot when cross-compiling).\n\npkg-config said:\n{cause}",
        name = lib.pkg_config_name,
    );
    msg
}

fn install_hint(lib: &Library) -> String {
    format!(
        "Install the C library, its headers, pkg-config and libclang (for bindgen):\n  \
         Debian/Ubuntu: sudo apt-get install pkg-config libclang-dev {debian}\n  \
         Fedora:        sudo dnf install pkgconf-pkg-config clang-devel {fedora}\n  \
         Arch:          sudo pacman -S pkgconf clang {arch}\n  \
         Alpine:        sudo apk add pkgconf clang-dev {alpine}\n\n",
        debian = lib.debian,
        fedora = lib.fedora,
        arch = lib.arch,
        alpine = lib.alpine,
    )
}

/// Stops the build unless libclang can be loaded, naming the packages that provide it.
pub fn require_libclang(lib: &Library) {
    if let Err(err) = clang_sys::load() {
        fail(&format!(
            "\nbindgen needs libclang to generate the bindings, and it could not be loaded:\n  \
             {err}\n\n{hint}Set LIBCLANG_PATH to the folder holding libclang.so if it is \
             installed somewhere unusual.",
            hint = install_hint(lib),
        ));
    }
}

/// Appends the supplements bindgen's output lacks and checks the ones it has.
pub fn supplement(mut bindings: String, extra: &[Supplement]) -> String {
    for s in extra {
        let decl = format!("pub const {}: ", s.name);
        match bindings.find(&decl) {
            Some(at) => {
                let line = &bindings[at..];
                let line = &line[..line.find(';').unwrap_or(line.len())];
                let found = line.rsplit('=').next().unwrap_or("").trim();
                if found != s.value.to_string() {
                    fail(&format!(
                        "the installed header defines {} as {found}, the kernel as {}",
                        s.name, s.value
                    ));
                }
            }
            None => {
                if !bindings.contains(&format!("pub type {} = ", s.ty)) {
                    let _ = writeln!(bindings, "pub type {} = ::core::ffi::c_uint;", s.ty);
                }
                let _ = writeln!(
                    bindings,
                    "/// Since Linux {}; added by netfilter-rs because the installed uapi \
                     header predates it.\npub const {}: {} = {};",
                    s.since, s.name, s.ty, s.value
                );
            }
        }
    }
    bindings
}

/// Writes `bindings.rs` into `OUT_DIR`.
pub fn write_bindings(bindings: &str) {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("bindings.rs");
    if let Err(err) = fs::write(&out, bindings) {
        fail(&format!("cannot write {}: {err}", out.display()));
    }
}

/// Prints `msg` and stops the build (a `cargo:warning` would let a broken build go on).
pub fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    process::exit(1);
}
