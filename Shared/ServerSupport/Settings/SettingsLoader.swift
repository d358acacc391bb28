import Configuration
import Foundation
import Synchronization

/// Collects the settings that were present but unreadable (a port of "abc", a string where the file
/// has an object). swift-configuration falls back to the default in that case and reports the event;
/// Estafeta turns each report into a start-up failure that names the key instead.
public final class SettingsProblemRecorder: AccessReporter, Sendable {
    private let recorded = Mutex<[SettingsProblem]>([])

    public init() {}

    public var problems: [SettingsProblem] { self.recorded.withLock { $0 } }

    public func report(_ event: AccessEvent) {
        let key = event.metadata.key.components.joined(separator: ".")
        var messages: [String] = []
        if let error = event.conversionError {
            messages.append("cannot be read as \(event.metadata.valueType): \(error)")
        }
        for provider in event.providerResults {
            if case .failure(let error) = provider.result {
                messages.append("\(provider.providerName) has a value that cannot be read as \(event.metadata.valueType): \(error)")
            }
        }
        guard !messages.isEmpty else { return }
        self.recorded.withLock { recorded in
            for message in messages where !recorded.contains(where: { $0.key == key && $0.message == message }) {
                recorded.append(SettingsProblem(key: key, message: message))
            }
        }
    }
}

/// Builds the provider hierarchy and reads `EstafetaSettings`.
public enum SettingsLoader {
    /// - Parameters:
    ///   - configFile: path of the JSON config file; nil reads `ESTAFETA_CONFIG` or runs on defaults.
    ///   - arguments: flags not consumed by the command's own parser, such as `--smtp-port 0`.
    ///   - environment: the process environment (tests pass their own).
    public static func load(
        configFile: String?, arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        defaultOpsPort: Int
    ) async throws(SettingsError) -> EstafetaSettings {
        let unknownFlags = arguments.filter { $0.hasPrefix("--") }.compactMap { flag -> String? in
            let name = String(flag.dropFirst(2).split(separator: "=", maxSplits: 1).first ?? "")
            return Self.flagNames.contains(name) ? nil : name
        }
        if !unknownFlags.isEmpty {
            throw SettingsError(
                problems: unknownFlags.map { SettingsProblem(key: "--\($0)", message: "is not an Estafeta setting") })
        }
        // A word that is neither a flag nor a flag's value (`estafeta-imap imap`, a value split by a stray
        // space) would otherwise be dropped without a word.
        let strayWords = arguments.indices.filter { index in
            guard !arguments[index].hasPrefix("--") else { return false }
            guard index > 0 else { return true }
            let previous = arguments[index - 1]
            return !previous.hasPrefix("--") || previous.contains("=")
        }
        if !strayWords.isEmpty {
            throw SettingsError(
                problems: strayWords.map {
                    SettingsProblem(key: arguments[$0], message: "is not a setting: settings are flags, such as --smtp-port 2525")
                })
        }
        var providers: [any ConfigProvider] = [
            CommandLineArgumentsProvider(arguments: ["estafeta"] + arguments),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "estafeta"),
        ]
        let path = configFile ?? environment["ESTAFETA_CONFIG"]
        if let path, !path.isEmpty {
            try Self.checkKnownKeys(inFile: path)
            do {
                providers.append(
                    try await FileProvider<JSONSnapshot>(
                        config: ConfigReader(provider: InMemoryProvider(values: ["filePath": ConfigValue(.string(path), isSecret: false)]))))
            } catch {
                throw SettingsError(problems: [SettingsProblem(key: "config file \(path)", message: "\(error)")])
            }
        }
        let recorder = SettingsProblemRecorder()
        let reader = ConfigReader(providers: providers, accessReporter: recorder)
        return try EstafetaSettings.load(from: reader, problems: recorder, defaultOpsPort: defaultOpsPort)
    }

    /// `smtp.port` → `smtp-port`, `database.busyTimeoutMs` → `database-busy-timeout-ms`.
    static let flagNames: Set<String> = Set(
        EstafetaSettings.knownKeys.map { key in
            key.split(separator: ".").map { component in
                component.reduce(into: "") { result, character in
                    if character.isUppercase { result += "-" + character.lowercased() } else { result.append(character) }
                }
            }.joined(separator: "-")
        })

    /// A misspelt key in the file would otherwise be ignored without a word, leaving the default in
    /// force: refuse the file instead, naming the key.
    static func checkKnownKeys(inFile path: String) throws(SettingsError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError(problems: [SettingsProblem(key: "config file \(path)", message: "cannot be read")])
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw SettingsError(
                problems: [SettingsProblem(key: "config file \(path)", message: "is not valid JSON: \(error)")])
        }
        guard let root = object as? [String: Any] else {
            throw SettingsError(
                problems: [SettingsProblem(key: "config file \(path)", message: "must hold a JSON object")])
        }
        var unknown: [String] = []
        func walk(_ dictionary: [String: Any], prefix: String) {
            for (name, value) in dictionary {
                let key = prefix.isEmpty ? name : "\(prefix).\(name)"
                if let nested = value as? [String: Any] {
                    walk(nested, prefix: key)
                } else if !EstafetaSettings.knownKeys.contains(key) {
                    unknown.append(key)
                }
            }
        }
        walk(root, prefix: "")
        if !unknown.isEmpty {
            throw SettingsError(
                problems: unknown.sorted().map { SettingsProblem(key: $0, message: "is not an Estafeta setting") })
        }
    }
}
