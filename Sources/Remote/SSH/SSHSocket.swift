import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Opens the TCP connection a session runs over.
enum SSHSocket {
    /// Resolves `target.host`, connects to its first address that answers before `deadline`, and
    /// returns the socket: non-blocking (libssh2 switches it to non-blocking itself for the
    /// handshake anyway), close-on-exec, TCP_NODELAY, with TCP keepalive probes every
    /// `keepaliveInterval` seconds so an idle session notices a dead peer.
    static func connect(to target: SSHTarget, deadline: SSHDeadline, keepaliveInterval: Int) throws(SSHError) -> Int32 {
        guard (1...65535).contains(target.port) else {
            throw SSHError(.unreachable, target, "port \(target.port) is not a valid TCP port (1-65535)")
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(target.host, String(target.port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = gai_strerror(status).map { String(cString: $0) } ?? "error \(status)"
            if status == EAI_AGAIN {
                throw SSHError(.nameResolution, target, "could not resolve \(target.host) (\(reason)); DNS may be down, try again")
            }
            throw SSHError(.nameResolution, target, "could not resolve host name \(target.host) (\(reason)); check the name or use an IP address")
        }
        defer { freeaddrinfo(list) }

        var failures: [SSHError] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            if deadline.hasPassed { break }
            do {
                let descriptor = try connectOne(address.pointee, target: target, deadline: deadline)
                configure(descriptor, keepaliveInterval: keepaliveInterval)
                return descriptor
            } catch {
                failures.append(error)
            }
        }
        // Prefer the most telling failure: a refusal says more than a timeout on another address.
        for kind in [SSHError.Kind.refused, .unreachable, .timeout] {
            if let failure = failures.first(where: { $0.kind == kind }) { throw failure }
        }
        throw SSHError(.timeout, target, "TCP connection to \(target.endpoint) did not complete within the connect timeout; "
                       + "check that the host is up and that a firewall lets port \(target.port) through")
    }

    private static func connectOne(_ address: addrinfo, target: SSHTarget, deadline: SSHDeadline) throws(SSHError) -> Int32 {
        let descriptor = socket(address.ai_family, address.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                                address.ai_protocol)
        guard descriptor >= 0 else {
            throw SSHError(.unreachable, target, "could not create a socket: \(systemErrorText(errno))")
        }
        var result = Glibc.connect(descriptor, address.ai_addr, address.ai_addrlen)
        var code: Int32 = result == 0 ? 0 : errno
        if result != 0 && (code == EINPROGRESS || code == EINTR) {
            var pollDescriptor = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            while true {
                let waitMilliseconds = deadline.remainingMilliseconds()
                if waitMilliseconds == 0 {
                    close(descriptor)
                    throw SSHError(.timeout, target, "TCP connection to \(target.endpoint) did not complete within the connect timeout; "
                                   + "check that the host is up and that a firewall lets port \(target.port) through")
                }
                result = poll(&pollDescriptor, 1, waitMilliseconds)
                if result > 0 { break }
                if result < 0 && errno != EINTR {
                    code = errno
                    close(descriptor)
                    throw SSHError(.unreachable, target, "waiting for the TCP connection failed: \(systemErrorText(code))")
                }
            }
            var socketError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &socketError, &length) != 0 { socketError = errno }
            code = socketError
        }
        if code == 0 { return descriptor }
        close(descriptor)
        switch code {
        case ECONNREFUSED:
            throw SSHError(.refused, target, "connection refused: nothing listens on port \(target.port); check that sshd runs "
                           + "on the host and that the port is right")
        case ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, ENETDOWN:
            throw SSHError(.unreachable, target, "host unreachable (\(systemErrorText(code))); check the address, the network "
                           + "and any firewall between here and the host")
        case ETIMEDOUT:
            throw SSHError(.timeout, target, "TCP connection timed out; check that the host is up and that a firewall lets port "
                           + "\(target.port) through")
        default:
            throw SSHError(.unreachable, target, "could not connect: \(systemErrorText(code))")
        }
    }

    private static func configure(_ descriptor: Int32, keepaliveInterval: Int) {
        var on: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, size)
        guard keepaliveInterval > 0 else { return }
        _ = setsockopt(descriptor, SOL_SOCKET, SO_KEEPALIVE, &on, size)
        var idle = Int32(clamping: max(keepaliveInterval, 1))
        var count: Int32 = 4
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &idle, size)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_KEEPCNT, &count, size)
    }
}
