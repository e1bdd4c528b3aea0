import Foundation
import NIOCore

/// Turns a failure to open the listener into a sentence that names the setting to change,
/// instead of `bind(descriptor:ptr:bytes:): Address already in use) (errno: 98)`.
public enum ListenFailure {
    public static func describe(_ error: any Error, server: ServerConfig) -> String? {
        let text = "\(error)"
        let code = (error as? IOError)?.errnoCode
            ?? (text.contains("errno: \(EADDRINUSE)") ? EADDRINUSE : text.contains("errno: \(EACCES)") ? EACCES
                : text.contains("errno: \(EADDRNOTAVAIL)") ? EADDRNOTAVAIL : nil)
        switch code {
        case EADDRINUSE:
            return "port \(server.port) is in use (server.port / --port): another process listens on \(server.host):\(server.port); stop it or choose another port"
        case EACCES:
            return "port \(server.port) needs privileges this user lacks (server.port / --port): choose a port above 1023"
        case EADDRNOTAVAIL:
            return "cannot listen on \(server.host) (server.host / --host): it is not an address of this machine"
        default:
            return nil
        }
    }
}
