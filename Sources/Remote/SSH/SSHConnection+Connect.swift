import CLibSSH2
import Foundation

extension SSHConnection {
    /// Connects, checks the host key and logs in, all within `settings.connectTimeout`.
    func establish(control: SSHJobControl) throws(SSHError) {
        do throws(SSHError) {
            try establishSession(control: control)
        } catch {
            // Over a bastion, what ssh said of the way is the telling part.
            throw jump?.explain(error, target: target) ?? error
        }
    }

    private func establishSession(control: SSHJobControl) throws(SSHError) {
        guard SSHLibrary.initResult == 0 else {
            throw SSHError(.handshake, target, "libssh2 could not be initialised (libssh2_init returned \(SSHLibrary.initResult))")
        }
        let deadline = SSHDeadline(after: settings.connectTimeout)
        if case .keyFile(let privateKeyPath, let publicKeyPath, _) = settings.identity.source {
            // Before any network traffic: a missing key is the user's to fix, not the host's.
            privateKeyInfo = try SSHPrivateKeyInfo.inspect(privateKeyPath: privateKeyPath, publicKeyPath: publicKeyPath, target: target)
        }
        if let bastion = settings.via {
            let jump = try SSHJump.start(to: target, via: bastion, settings: settings)
            self.jump = jump
            descriptor = jump.descriptor
        } else {
            descriptor = try SSHSocket.connect(to: target, deadline: deadline, keepaliveInterval: settings.keepaliveInterval)
        }
        guard let session = libssh2_session_init_ex(nil, nil, nil, nil) else {
            throw SSHError(.handshake, target, "libssh2 could not allocate a session (out of memory?)")
        }
        self.session = session
        libssh2_session_set_blocking(session, 0)
        // Only blocking calls (the agent protocol) use this; everything else has its own deadline.
        libssh2_session_set_timeout(session, Int(max(1, settings.connectTimeout.wholeMilliseconds)))
        preferRecordedHostKeyTypes(session)

        let timeoutText = settings.connectTimeout.secondsText
        let handshake = try retry(deadline: deadline, control: control, onTimeout: { handshakeTimeout(session, timeoutText) }) {
            libssh2_session_handshake(session, descriptor)
        }
        if handshake != 0 { throw handshakeFailure(handshake) }

        try verifyHostKey(session)
        try authenticate(session, deadline: deadline, control: control)
        if settings.keepaliveInterval > 0 {
            libssh2_keepalive_config(session, 1, UInt32(clamping: settings.keepaliveInterval))
        }
    }

    private func handshakeTimeout(_ session: OpaquePointer, _ timeoutText: String) -> SSHError {
        if libssh2_session_banner_get(session) == nil {
            return SSHError(.timeout, target, "the host accepted the TCP connection but sent no SSH greeting within \(timeoutText); "
                            + "check that port \(target.port) is sshd and not another service, and that the host is not overloaded")
        }
        return SSHError(.timeout, target, "the SSH handshake did not complete within \(timeoutText); the host or the network may be "
                        + "overloaded, try again or raise the connect timeout")
    }

    private func handshakeFailure(_ code: Int32) -> SSHError {
        let detail = lastErrorText()
        switch code {
        case LIBSSH2_ERROR_KEX_FAILURE, LIBSSH2_ERROR_METHOD_NONE, LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE, LIBSSH2_ERROR_HOSTKEY_INIT:
            return SSHError(.handshake, target, "the SSH handshake failed: the server and libssh2 \(SSHLibrary.version) share no "
                            + "key exchange, cipher or host key algorithm (\(detail)). libssh2 1.10 needs an ed25519 or ECDSA host key; "
                            + "check the server's HostKey and HostKeyAlgorithms settings")
        case LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV:
            return SSHError(.handshake, target, "the server closed the connection during the SSH handshake (\(detail)); check that "
                            + "port \(target.port) is sshd, and the server's logs (MaxStartups, firewall or fail2ban rules)")
        default:
            return SSHError(.handshake, target, "the SSH handshake failed: \(detail) (libssh2 error \(code))")
        }
    }

    /// Puts the host key types known_hosts has for this host first, then OpenSSH's order
    /// (ed25519 before ECDSA; libssh2's own default puts ECDSA first, which would make a host
    /// recorded by OpenSSH with its ed25519 key look unknown).
    private func preferRecordedHostKeyTypes(_ session: OpaquePointer) {
        let recorded = settings.knownHosts.recordedKeyTypes(for: target, session: session).map(\.name)
        let order = recorded + SSHHostKeyType.all.map(\.name).filter { !recorded.contains($0) }
        _ = libssh2_session_method_pref(session, LIBSSH2_METHOD_HOSTKEY, order.joined(separator: ","))
    }

    // MARK: - Host key

    private func verifyHostKey(_ session: OpaquePointer) throws(SSHError) {
        var length = 0
        var type: Int32 = 0
        guard let raw = libssh2_session_hostkey(session, &length, &type), length > 0 else {
            throw SSHError(.handshake, target, "the server presented no host key")
        }
        let key = [UInt8](UnsafeRawBufferPointer(start: raw, count: length))
        guard let keyType = SSHHostKeyType.forLibssh2Type(type) else {
            throw SSHError(.handshake, target, "the server's host key type (\(type)) is not one libssh2 can check")
        }
        let fingerprint: String
        if let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) {
            fingerprint = SSHDigest.fingerprint(ofDigest: [UInt8](UnsafeRawBufferPointer(start: hash, count: 32)))
        } else {
            fingerprint = SSHDigest.fingerprint(ofKeyBlob: key)
        }
        hostKeyFingerprint = fingerprint
        let knownHosts = settings.knownHosts
        let entry = KnownHosts.entryName(host: target.host, port: target.port)
        let verdict = try knownHosts.verify(key: key, type: keyType, target: target,
                                            recordIfUnknown: settings.policy == .acceptNew, session: session)
        switch verdict {
        case .known, .recorded:
            return
        case .unknown:
            throw SSHError(.hostKeyUnknown, target,
                           "the host is not in \(knownHosts.path) and the host key policy is strict; it presented the \(keyType.name) "
                           + "key \(fingerprint). After checking that fingerprint with the host's owner, add it with "
                           + "`ssh-keyscan -p \(target.port) -t \(keyType.name) \(target.host) >> \(knownHosts.path)`, "
                           + "or use the accept-new policy to record it on first connect")
        case .changed(let recordedFingerprint):
            throw SSHError(.hostKeyChanged, target,
                           "HOST KEY CHANGED: \(knownHosts.path) records the \(keyType.name) key \(recordedFingerprint) for \(entry), "
                           + "but the host presented \(fingerprint). Someone may be intercepting the connection, or the host was "
                           + "rebuilt. If the change is expected, remove the old entry with `ssh-keygen -R '\(entry)' -f \(knownHosts.path)` "
                           + "(or delete its line) and connect again")
        case .revoked:
            throw SSHError(.hostKeyRevoked, target,
                           "the host presented the \(keyType.name) key \(fingerprint), which \(knownHosts.path) marks @revoked; "
                           + "refusing to connect")
        }
    }

    // MARK: - Login

    private func authenticate(_ session: OpaquePointer, deadline: SSHDeadline, control: SSHJobControl) throws(SSHError) {
        let user = target.user
        let userLength = UInt32(user.utf8.count)
        let loginTimeout = { SSHError(.timeout, self.target, "login as \(self.target.user) did not complete within "
                                      + "\(self.settings.connectTimeout.secondsText); the host may be overloaded, try again") }
        // Ask which methods the server accepts (this may also log in with "none").
        var methods: String?
        while true {
            if let list = libssh2_userauth_list(session, user, userLength) {
                methods = String(cString: list)
                break
            }
            if libssh2_userauth_authenticated(session) != 0 { return }
            let code = lastErrorCode
            if code != LIBSSH2_ERROR_EAGAIN { throw failure(.authentication, "asking the server for its login methods", code: code) }
            try waitForSocket(deadline: deadline, control: control, onTimeout: loginTimeout)
        }
        if let methods, !methods.split(separator: ",").contains("publickey") {
            throw SSHError(.authentication, target, "the server does not accept public-key login for \(target.login) (it offers: "
                           + "\(methods)); enable PubkeyAuthentication in its sshd_config")
        }

        switch settings.identity.source {
        case .keyFile(let privateKeyPath, let publicKeyPath, let passphrase):
            let result = try retry(deadline: deadline, control: control, onTimeout: loginTimeout) {
                libssh2_userauth_publickey_fromfile_ex(session, user, userLength, publicKeyPath, privateKeyPath, passphrase)
            }
            if result == 0 { return }
            throw keyLoginFailure(result, privateKeyPath: privateKeyPath, publicKeyPath: publicKeyPath, passphrase: passphrase)
        case .agent(let socketPath):
            try authenticateWithAgent(session, socketPath: socketPath, deadline: deadline)
        }
    }

    private func keyLoginFailure(_ code: Int32, privateKeyPath: String, publicKeyPath: String?, passphrase: String?) -> SSHError {
        let detail = lastErrorText()
        switch code {
        case LIBSSH2_ERROR_FILE:
            let passphraseHint = passphrase == nil
                ? "if the key has a passphrase, configure it"
                : "check the passphrase"
            return SSHError(.identityFile, target, "could not load the private key \(privateKeyPath) (\(detail)); \(passphraseHint). "
                            + "libssh2 1.10 reads OpenSSH-format ed25519 and ECDSA keys and PEM keys")
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED, LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
            if privateKeyInfo?.isRSA == true {
                return SSHError(.rsaKeyRefused, target, rsaRefusalText(keyDescription: "the RSA key \(privateKeyPath)"))
            }
            var text = "the server refused the key \(privateKeyPath) for \(target.login). Add \(publicKeyPath ?? privateKeyPath + ".pub") "
                + "to ~\(target.user)/.ssh/authorized_keys on the host, or check the user name and the key path"
            if privateKeyInfo?.algorithm == .dsa {
                text += " (DSA keys are disabled in OpenSSH 7.0 and later: make an ed25519 key with `ssh-keygen -t ed25519`)"
            }
            return SSHError(.authentication, target, text)
        default:
            return failure(.authentication, "public-key login as \(target.login) with \(privateKeyPath)", code: code)
        }
    }

    private func rsaRefusalText(keyDescription: String) -> String {
        "the server refused \(keyDescription) for \(target.login). libssh2 \(SSHLibrary.version) signs RSA keys only with SHA-1 "
            + "(ssh-rsa), which OpenSSH 8.8 and later refuse by default. Make an ed25519 key (`ssh-keygen -t ed25519 -f "
            + "~/.ssh/kryoform_ed25519`), add its .pub to ~\(target.user)/.ssh/authorized_keys on the host, and use it instead"
    }

    /// Logs in with each key of the SSH agent in turn. libssh2 1.10's agent support is only
    /// reliable in blocking mode, so this part runs blocking, bounded by the session timeout.
    private func authenticateWithAgent(_ session: OpaquePointer, socketPath: String?, deadline: SSHDeadline) throws(SSHError) {
        let environmentPath = ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"]
        guard let path = socketPath ?? environmentPath, !path.isEmpty else {
            throw SSHError(.authentication, target, "no private key file is configured and no SSH agent is available (SSH_AUTH_SOCK "
                           + "is not set); configure a private key file, or start ssh-agent and add a key with ssh-add")
        }
        guard let agent = libssh2_agent_init(session) else {
            throw SSHError(.authentication, target, "libssh2 could not set up SSH agent support")
        }
        libssh2_session_set_blocking(session, 1)
        libssh2_session_set_timeout(session, max(1, Int(deadline.remainingMilliseconds())))
        defer {
            _ = libssh2_agent_disconnect(agent)
            libssh2_agent_free(agent)
            libssh2_session_set_blocking(session, 0)
        }
        libssh2_agent_set_identity_path(agent, path)
        if libssh2_agent_connect(agent) != 0 {
            throw SSHError(.authentication, target, "cannot connect to the SSH agent at \(path) (\(lastErrorText())); check that "
                           + "ssh-agent runs and SSH_AUTH_SOCK points at it")
        }
        if libssh2_agent_list_identities(agent) != 0 {
            throw SSHError(.authentication, target, "the SSH agent at \(path) did not list its keys (\(lastErrorText()))")
        }
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>?
        var tried = 0
        var rsaKeys = 0
        while true {
            var identity: UnsafeMutablePointer<libssh2_agent_publickey>?
            let next = libssh2_agent_get_identity(agent, &identity, previous)
            if next == 1 { break }
            guard next == 0, let identity else {
                throw SSHError(.authentication, target, "reading the keys of the SSH agent failed (\(lastErrorText()))")
            }
            previous = identity
            tried += 1
            if let blob = identity.pointee.blob {
                var reader = SSHWireReader(bytes: [UInt8](UnsafeBufferPointer(start: blob, count: identity.pointee.blob_len)), offset: 0)
                if let type = reader.readString(), SSHPrivateKeyInfo.algorithm(ofKeyTypeName: String(decoding: type, as: UTF8.self)) == .rsa {
                    rsaKeys += 1
                }
            }
            let result = libssh2_agent_userauth(agent, target.user, identity)
            if result == 0 { return }
            if result == LIBSSH2_ERROR_TIMEOUT || deadline.hasPassed {
                throw SSHError(.timeout, target, "login with the SSH agent's keys did not complete within "
                               + "\(settings.connectTimeout.secondsText); try again")
            }
            if Self.isConnectionLoss(result) { throw failure(.authentication, "logging in with the SSH agent", code: result) }
        }
        if tried == 0 {
            throw SSHError(.authentication, target, "the SSH agent at \(path) holds no keys; add one with ssh-add")
        }
        if rsaKeys == tried {
            throw SSHError(.rsaKeyRefused, target, rsaRefusalText(keyDescription: "the SSH agent's RSA key\(tried == 1 ? "" : "s")"))
        }
        throw SSHError(.authentication, target, "the server refused all \(tried) key\(tried == 1 ? "" : "s") of the SSH agent for "
                       + "\(target.login); add the right public key to ~\(target.user)/.ssh/authorized_keys on the host"
                       + (rsaKeys > 0 ? " (the agent's RSA keys cannot be used with libssh2 1.10: use an ed25519 key)" : ""))
    }
}
