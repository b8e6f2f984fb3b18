//! The one place the client's errors become exit codes: the client says what
//! went wrong and where, the command line decides what number a script sees
//! (README's exit-code table).

use crate::client::{ClientError, ScriptError};
use crate::error::CliError;

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        let sentence = e.to_string();
        match e {
            ClientError::BadProject(_)
            | ClientError::ReadProject { .. }
            | ClientError::OpenProject { .. }
            | ClientError::BadFolder(_) => CliError::Usage(sentence),
            ClientError::AuthRefused(_) => CliError::Auth(sentence),
            ClientError::Refused(_) => CliError::Rejected(sentence),
            ClientError::Unavailable(_) => CliError::Unreachable(sentence),
            ClientError::Verification(_) | ClientError::BadIndex { .. } => {
                CliError::Verify(sentence)
            }
            ClientError::Install(_) => CliError::Install(sentence),
            // A script that could not read a file is a local failure; a
            // failing script is a failing install, as with `npm ci`.
            ClientError::Scripts(ScriptError::Io { .. }) => CliError::Failure(sentence),
            ClientError::Scripts(_) => CliError::Install(sentence),
            ClientError::WriteBundle { .. }
            | ClientError::DownloadFile { .. }
            | ClientError::Local { .. }
            | ClientError::HttpClient { .. }
            | ClientError::NotDepcache { .. }
            | ClientError::UnexpectedStatus { .. }
            | ClientError::LockProject { .. }
            | ClientError::SwapIn { .. }
            | ClientError::Failure(_)
            | ClientError::Io(_) => CliError::Failure(sentence),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::PathBuf;

    use super::*;
    use crate::error::exit;

    fn disk_full() -> io::Error {
        io::Error::new(io::ErrorKind::StorageFull, "No space left on device")
    }

    // A local disk failure used to travel as a server error; it must still be
    // exit 1 with the sentence scripts grep for, not a refusal or a retry.
    #[test]
    fn local_disk_failures_are_plain_failures_with_their_sentences() {
        let e = CliError::from(ClientError::WriteBundle {
            source: disk_full(),
        });
        assert!(matches!(e, CliError::Failure(_)));
        assert_eq!(
            e.to_string(),
            "could not write the downloaded bundle: No space left on device"
        );
        let e = CliError::from(ClientError::DownloadFile {
            dir: PathBuf::from("/p"),
            source: disk_full(),
        });
        assert!(matches!(e, CliError::Failure(_)));
        assert_eq!(
            e.to_string(),
            "could not create a download file in /p: No space left on device"
        );
    }

    #[test]
    fn each_kind_keeps_its_exit_code() {
        let read = ClientError::ReadProject {
            path: PathBuf::from("/p/package.json"),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert!(
            read.to_string()
                .starts_with("cannot read /p/package.json: ")
        );
        assert!(matches!(CliError::from(read), CliError::Usage(_)));
        let cases: Vec<(ClientError, u8)> = vec![
            (ClientError::BadProject("x".into()), exit::USAGE),
            (ClientError::BadFolder("x".into()), exit::USAGE),
            (ClientError::AuthRefused("x".into()), exit::AUTH),
            (ClientError::Refused("x".into()), exit::REJECTED),
            (ClientError::Unavailable("x".into()), exit::UNREACHABLE),
            (ClientError::Verification("x".into()), exit::VERIFY),
            (
                ClientError::BadIndex {
                    url: "u".into(),
                    reason: "r".into(),
                },
                exit::VERIFY,
            ),
            (ClientError::Install("x".into()), exit::INSTALL),
            (
                ClientError::UnexpectedStatus {
                    server: "s".into(),
                    code: 304,
                },
                exit::FAILURE,
            ),
            (ClientError::Io(disk_full()), exit::FAILURE),
        ];
        for (e, code) in cases {
            let shown = format!("{e:?}");
            assert_eq!(
                CliError::from(e).exit_code(),
                std::process::ExitCode::from(code),
                "{shown}"
            );
        }
    }
}
