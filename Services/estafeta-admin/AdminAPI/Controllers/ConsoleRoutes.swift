import HTTPTypes
import Hummingbird
import NIOCore

/// The web console: static files compiled into the executable (`Console/` beside this folder), served
/// at `/` and `/console/…` on the admin listener. They are plain HTML, CSS and JavaScript modules that
/// call `/api/v1` with the operator's token, so the console needs no build step and can do nothing a
/// script with the same token could not.
enum ConsoleRoutes {
    struct Asset {
        let bytes: ByteBuffer
        let contentType: String
    }

    /// By file name; the module names are the ones `index.html` and the modules import.
    static let assets: [String: Asset] = {
        func asset(_ bytes: [UInt8], _ type: String) -> Asset { Asset(bytes: ByteBuffer(bytes: bytes), contentType: type) }
        let script = "text/javascript; charset=utf-8"
        return [
            "index.html": asset(PackageResources.index_html, "text/html; charset=utf-8"),
            "console.css": asset(PackageResources.console_css, "text/css; charset=utf-8"),
            "icon.svg": asset(PackageResources.icon_svg, "image/svg+xml"),
            "app.js": asset(PackageResources.app_js, script),
            "api.js": asset(PackageResources.api_js, script),
            "dom.js": asset(PackageResources.dom_js, script),
            "overview.js": asset(PackageResources.overview_js, script),
            "domains.js": asset(PackageResources.domains_js, script),
            "accounts.js": asset(PackageResources.accounts_js, script),
            "aliases.js": asset(PackageResources.aliases_js, script),
            "queue.js": asset(PackageResources.queue_js, script),
            "audit.js": asset(PackageResources.audit_js, script),
        ]
    }()

    /// No inline script or style, nothing from elsewhere, no framing, no forms posted away: the console
    /// runs only its own modules and talks only to its own origin.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    static let paths = ["/", "/console/:file"]

    static func register(on router: Router<AdminRequestContext>) {
        router.get("/") { _, _ in try Self.respond("index.html") }
        router.get("/console/:file") { _, context in
            try Self.respond(context.parameters.get("file") ?? "")
        }
    }

    static func respond(_ name: String) throws -> Response {
        guard let asset = Self.assets[name] else {
            throw ProblemDetails(.notFound, "not-found", "No such file")
        }
        var headers = Self.securityHeaders
        headers[.contentType] = asset.contentType
        // Compiled in: a new executable brings new files, so the browser asks each time (cheap on loopback).
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: asset.bytes))
    }

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: Self.contentSecurityPolicy,
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("Cross-Origin-Opener-Policy")!: "same-origin",
    ]
}
