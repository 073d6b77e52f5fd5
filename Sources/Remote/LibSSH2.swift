import CLibSSH2

/// The libssh2 the Remote module is linked against (Debian's libssh2-1), the base of the SSH client
/// built in the Remote issue.
public enum LibSSH2 {
    /// The library's version as it reports it at run time, e.g. "1.10.0"; nil if it cannot say.
    public static var runtimeVersion: String? {
        guard let text = libssh2_version(0) else { return nil }
        return String(cString: text)
    }

    /// The version of the headers kryoform was compiled against.
    public static let headerVersion = LIBSSH2_VERSION
}
