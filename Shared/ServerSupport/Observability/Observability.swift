import Foundation
import Logging
import Metrics
import Prometheus
import Synchronization

/// Process-wide logging and metrics. swift-log and swift-metrics allow one bootstrap per process, so
/// this runs once in each executable's main, before anything logs; later calls are ignored.
public enum Observability {
    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The registry `/metrics` renders. Exists after `bootstrap`; tests that skip it get an empty one.
    public static var registry: PrometheusCollectorRegistry {
        self.state.withLock { registry in
            if let registry { return registry }
            let created = PrometheusCollectorRegistry()
            registry = created
            return created
        }
    }

    public static func bootstrap(format: EstafetaSettings.LogFormat, level: Logger.Level) {
        let first: Bool = self.state.withLock { registry in
            guard registry == nil else { return false }
            registry = PrometheusCollectorRegistry()
            return true
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch format {
            case .text: handler = StreamLogHandler.standardError(label: label)
            case .json: handler = JSONLinesLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: self.registry))
    }

    /// The Prometheus text exposition of every metric of this process.
    public static func renderMetrics() -> [UInt8] {
        self.registry.emitToBuffer()
    }
}

/// One JSON object per line on standard error, for log collectors in containers. swift-log ships
/// only a text handler, and no maintained JSON handler is among the packages this project can use.
public struct JSONLinesLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in self.metadata { fields[key] = "\(value)" }
        for (key, value) in event.metadata ?? [:] { fields[key] = "\(value)" }
        var object: [String: Any] = [
            "time": ISO8601DateFormatter.string(
                from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds]),
            "level": event.level.rawValue,
            "logger": self.label,
            "message": "\(event.message)",
        ]
        if !fields.isEmpty { object["metadata"] = fields }
        guard var line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        line.append(UInt8(ascii: "\n"))
        FileHandle.standardError.write(line)
    }
}
