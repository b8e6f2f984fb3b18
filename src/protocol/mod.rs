//! The contract shared by server, client and admin: wire types, the cache-key
//! recipe, the index format and validation of everything a request may carry.

mod ids;
mod index;
mod key;
mod manager;
mod npmrc;
mod paths;
mod platform;
mod pnp;
mod scopes;
mod supported;
mod validate;
mod wire;
mod workspaces;
mod yarn;
mod yarnrc;
mod yarnrc_strip;

pub use ids::{Key, Sha256};
pub use index::{
    Entry, FileEntry, INDEX_FORMAT, INDEX_FORMAT_WORKSPACES, Index, METHOD_DEFLATE, METHOD_STORED,
    NestedTree,
};
pub use key::{KEY_RECIPE_TAG, KeyInput, compute_key, key_of};
pub use manager::Manager;
pub use npmrc::{
    NpmrcCheck, NpmrcDropped, NpmrcRefusal, RefusedKind, check_npmrc, check_pnpm_config,
    check_pnpm_shape, is_layout_setting, pnpm_importers, pnpm_workspace_globs,
};
pub use paths::{
    PathError, check_entry_path, check_root_tree_link, check_symlink_target, check_workspace_link,
};
pub use platform::current_platform;
pub use pnp::{INDEX_FORMAT_PNP, PNP_OUTPUTS, PNP_ROOT, PnpOutput, output_root, pnp_output};
pub use scopes::{
    MAX_PRIVATE_SCOPES, ScopeListError, check_private_scopes, is_scope, job_scopes, used_scopes,
};
pub use supported::{ContainerSupport, ManagerSupport, SupportedVersions};
pub use validate::{
    ValidationError, check_file_name, check_platform, check_version, check_versions,
};
pub use wire::{
    CacheRequest, CacheResponse, ErrorBody, HealthResponse, InstallOptions, RequestError,
    ValidRequest, encode_file,
};
pub use workspaces::{
    MAX_WORKSPACES, ProjectShapeError, WorkspaceGlob, check_project_shape, declared_workspaces,
    is_workspace_manifest_name, segment_matches, workspace_folders,
};
pub use yarn::{
    YarnConfigError, YarnFlavor, YarnSettings, YarnShapeError, check_yarn_config, check_yarn_shape,
    is_yarn_pnp, package_manager_yarn, yarn_flavor,
};
pub use yarnrc_strip::{StrippedKind, StrippedLine, strip_yarn_config};
