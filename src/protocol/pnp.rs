//! Yarn Plug'n'Play's outputs and how an index carries them. A PnP install
//! makes no `node_modules`: it writes `.pnp.cjs` (with `.pnp.loader.mjs` and
//! `.pnp.data.json` when so configured) at the project root,
//! `.yarn/install-state.gz`, the zip cache `.yarn/cache` and the extracted
//! packages in `.yarn/unplugged`. The project keeps its own files beside
//! them (its manifests at the root; `releases/`, `plugins/`, `sdks/`,
//! `patches/` in `.yarn`), so a PnP index (format 3, rooted at `.`) has two
//! kinds of trees, told apart by this fixed table and never by the index:
//! a few named files of a shared folder, each replaced alone, and folders
//! Yarn owns whole, swapped like `node_modules`. See docs/installs.md, "Yarn".

use std::collections::BTreeMap;

use super::{Manager, is_yarn_pnp};

/// The format of a Plug'n'Play index: rooted at [`PNP_ROOT`], its nested
/// trees among [`PNP_OUTPUTS`]. A client from before it refuses the index
/// (its root is not `node_modules`) before writing anything.
pub const INDEX_FORMAT_PNP: u32 = 3;

/// The root tree of a PnP index: the project folder, of which it holds only
/// the files [`PNP_OUTPUTS`] names.
pub const PNP_ROOT: &str = ".";

/// How one PnP output is restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PnpOutput {
    /// These files of a folder the project shares with Yarn: each is put in
    /// place by its own rename; a name the index lacks is removed.
    Files(&'static [&'static str]),
    /// A folder Yarn owns whole: swapped in like `node_modules`, removed
    /// when the index lacks it.
    Folder,
}

/// Every output a PnP install may leave, in index order (the root first).
pub const PNP_OUTPUTS: &[(&str, PnpOutput)] = &[
    (
        PNP_ROOT,
        PnpOutput::Files(&[".pnp.cjs", ".pnp.data.json", ".pnp.loader.mjs"]),
    ),
    (".yarn", PnpOutput::Files(&["install-state.gz"])),
    (".yarn/cache", PnpOutput::Folder),
    (".yarn/unplugged", PnpOutput::Folder),
];

/// How the output at `folder` is restored; `None` for a folder that is no
/// PnP output.
pub fn pnp_output(folder: &str) -> Option<PnpOutput> {
    PNP_OUTPUTS
        .iter()
        .find(|(f, _)| *f == folder)
        .map(|(_, kind)| *kind)
}

/// The root of the index a request's install makes: `.` for Yarn
/// Plug'n'Play, else the manager's output folder.
pub fn output_root(manager: Manager, files: &BTreeMap<String, Vec<u8>>) -> &'static str {
    if manager == Manager::Yarn && is_yarn_pnp(files) {
        PNP_ROOT
    } else {
        manager.output_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_the_root_first_and_kinds_by_folder() {
        assert_eq!(PNP_OUTPUTS[0].0, PNP_ROOT);
        assert!(
            matches!(pnp_output(".yarn"), Some(PnpOutput::Files(f)) if f == ["install-state.gz"])
        );
        assert_eq!(pnp_output(".yarn/cache"), Some(PnpOutput::Folder));
        assert_eq!(pnp_output(".yarn/releases"), None);
        assert_eq!(pnp_output("node_modules"), None);
    }
}
