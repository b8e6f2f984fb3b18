//! Yarn requests the server refuses before installing anything: a config
//! file with a credential or a registry override (400 naming the line), a
//! yarn version it cannot get (400 listing what it can), and project shapes
//! it cannot reproduce (422 `unsupported_project`, which the real client
//! answers with a local install, saying why).
