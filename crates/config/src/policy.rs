//! A profile's policy: the rules a threat model holds the rest of its config to. The host checks
//! every plugin against them before it loads (its section and grants), again once it has described
//! itself (what a transport declares it reveals, which content type a message type handles), and
//! refuses one that breaks a rule with an error naming the rule's line; it is never started.

use std::net::SocketAddr;

use courier_proto::sync::timer::Timer;
use serde::Deserialize;
use toml::Spanned;

use crate::capability::{Capability, Reveal, TcpScope};
use crate::world::World;
use crate::{Location, PluginEntry};

/// The `[policy]` section as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawPolicy {
    never_reveal: Option<Spanned<Vec<String>>>,
    transports: Option<Spanned<Vec<String>>>,
    never_grant: Option<Spanned<Vec<String>>>,
    max_tcp_scope: Option<Spanned<TcpScope>>,
    image_max_dimension: Option<Spanned<u32>>,
    voice_distort: Option<Spanned<bool>>,
    api_loopback_only: Option<Spanned<bool>>,
    disappear_within: Option<Spanned<String>>,
    read_receipts: Option<Spanned<bool>>,
}

/// One rule's value and where the profile states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule<T> {
    /// What the rule says.
    pub value: T,
    /// Its line.
    pub at: Location,
}

/// The rules of a profile; an absent rule allows anything the rest of the config asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// What no transport may reveal.
    pub never_reveal: Option<Rule<Vec<Reveal>>>,
    /// The only transport plugins that may run.
    pub transports: Option<Rule<Vec<String>>>,
    /// Capabilities no plugin may be granted.
    pub never_grant: Option<Rule<Vec<Capability>>>,
    /// The widest reach a `tcp` grant may have.
    pub max_tcp_scope: Option<Rule<TcpScope>>,
    /// The longest side, in pixels, an image may be sent with.
    pub image_max_dimension: Option<Rule<u32>>,
    /// Whether every voice note is distorted.
    pub voice_distort: Option<Rule<bool>>,
    /// Whether the local API may listen on loopback only.
    pub api_loopback_only: Option<Rule<bool>>,
    /// The longest any message may stay: every conversation's timer is at most this.
    pub disappear_within: Option<Rule<Timer>>,
    /// Whether a conversation nobody chose for sends read receipts (absent: it does not).
    pub read_receipts: Option<Rule<bool>>,
}

/// A plugin, grant or setting a profile's policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused by the profile's policy: {rule} {message}")]
pub struct Refusal {
    /// The rule, and where the profile states it.
    pub rule: Location,
    /// What the rule asks and how to comply.
    pub message: String,
}

/// The setting of the image plugin the policy pins.
const MAX_DIMENSION: &str = "max-dimension";
/// The setting of the voice plugin the policy pins.
const DISTORT: &str = "distort";
/// The content types whose settings a policy pins.
const IMAGE: &str = "courier/image";
const VOICE: &str = "courier/voice";

impl RawPolicy {
    /// The checked policy; `locate` turns a key and a span into its line.
    pub(crate) fn check(
        self,
        locate: &dyn Fn(&str, std::ops::Range<usize>) -> Location,
    ) -> Result<Policy, (Location, String)> {
        fn rule<T, U>(
            raw: Option<Spanned<T>>,
            key: &str,
            locate: &dyn Fn(&str, std::ops::Range<usize>) -> Location,
            parse: impl FnOnce(T) -> Result<U, String>,
        ) -> Result<Option<Rule<U>>, (Location, String)> {
            let Some(raw) = raw else { return Ok(None) };
            let at = locate(&format!("policy.{key}"), raw.span());
            match parse(raw.into_inner()) {
                Ok(value) => Ok(Some(Rule { value, at })),
                Err(message) => Err((at, message)),
            }
        }
        let each = |names: Vec<String>| {
            names
                .iter()
                .map(|n| n.parse::<Capability>().map_err(|e| e.to_string()))
                .collect()
        };
        Ok(Policy {
            never_reveal: rule(self.never_reveal, "never-reveal", locate, |names| {
                names.iter().map(|n| n.parse::<Reveal>()).collect()
            })?,
            transports: rule(self.transports, "transports", locate, Ok)?,
            never_grant: rule(self.never_grant, "never-grant", locate, each)?,
            max_tcp_scope: rule(self.max_tcp_scope, "max-tcp-scope", locate, Ok)?,
            image_max_dimension: rule(self.image_max_dimension, "image-max-dimension", locate, Ok)?,
            voice_distort: rule(self.voice_distort, "voice-distort", locate, Ok)?,
            api_loopback_only: rule(self.api_loopback_only, "api-loopback-only", locate, Ok)?,
            disappear_within: rule(self.disappear_within, "disappear-within", locate, |text| {
                match text.parse::<Timer>() {
                    Ok(Timer::OFF) => Err("cannot be off: remove it to let messages stay".into()),
                    Ok(timer) => Ok(timer),
                    Err(e) => Err(e.to_string()),
                }
            })?,
            read_receipts: rule(self.read_receipts, "read-receipts", locate, Ok)?,
        })
    }
}

fn refuse(at: &Location, message: String) -> Refusal {
    Refusal {
        rule: at.clone(),
        message,
    }
}

fn wider(scope: TcpScope, than: TcpScope) -> bool {
    let rank = |s| match s {
        TcpScope::Loopback => 0,
        TcpScope::Lan => 1,
        TcpScope::Any => 2,
    };
    rank(scope) > rank(than)
}

impl Policy {
    /// Whether `entry` may be loaded at all, by its section and grants alone.
    pub fn admit(&self, entry: &PluginEntry) -> Result<(), Refusal> {
        if let Some(rule) = &self.transports
            && entry.world == World::Transport
            && !rule.value.contains(&entry.plugin)
        {
            return Err(refuse(
                &rule.at,
                format!(
                    "lets only {} run as transports; remove [transports.{}] or use a profile that allows it",
                    if rule.value.is_empty() {
                        "none".to_owned()
                    } else {
                        rule.value.join(", ")
                    },
                    entry.section
                ),
            ));
        }
        if let Some(rule) = &self.never_grant
            && let Some(c) = entry
                .grants
                .capabilities
                .iter()
                .find(|c| rule.value.contains(c))
        {
            return Err(refuse(
                &rule.at,
                format!(
                    "never grants `{c}`; remove it from the grant, or this plugin from the profile"
                ),
            ));
        }
        if let Some(rule) = &self.max_tcp_scope
            && entry.grants.has(Capability::Tcp)
            && wider(entry.grants.tcp_scope, rule.value)
        {
            return Err(refuse(
                &rule.at,
                format!(
                    "lets `tcp` reach no further than the {0} scope; set tcp_scope = \"{0}\" or narrower",
                    rule.value.name()
                ),
            ));
        }
        if entry.world != World::Transport {
            return Ok(());
        }
        let possible = entry.grants.possible_reveals();
        self.forbid(&possible, "its grants make possible")
    }

    /// Whether a transport that declares it reveals `declared` may run.
    pub fn admit_transport(&self, declared: &[Reveal]) -> Result<(), Refusal> {
        self.forbid(declared, "it declares it reveals")
    }

    fn forbid(&self, reveals: &[Reveal], how: &str) -> Result<(), Refusal> {
        let Some(rule) = &self.never_reveal else {
            return Ok(());
        };
        match reveals.iter().find(|r| rule.value.contains(r)) {
            Some(r) => Err(refuse(
                &rule.at,
                format!(
                    "forbids revealing {r}, which {how}; remove this transport or its grant from the profile"
                ),
            )),
            None => Ok(()),
        }
    }

    /// Whether a message type of `content_type` may run with `entry`'s settings.
    pub fn admit_message_type(
        &self,
        entry: &PluginEntry,
        content_type: &str,
    ) -> Result<(), Refusal> {
        let setting = |key: &str| {
            entry
                .settings
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if content_type == IMAGE
            && let Some(rule) = &self.image_max_dimension
        {
            let set = setting(MAX_DIMENSION).and_then(|v| v.parse::<u32>().ok());
            if set.is_none_or(|n| n > rule.value) {
                return Err(refuse(
                    &rule.at,
                    format!(
                        "requires every image stripped to at most {} px; set settings = {{ {MAX_DIMENSION} = {} }} or less",
                        rule.value, rule.value
                    ),
                ));
            }
        }
        if content_type == VOICE
            && let Some(rule) = self.voice_distort.as_ref().filter(|r| r.value)
            && setting(DISTORT) != Some("true")
        {
            return Err(refuse(
                &rule.at,
                format!(
                    "requires every voice note distorted; set settings = {{ {DISTORT} = true }}"
                ),
            ));
        }
        Ok(())
    }

    /// The settings of a `content_type` plugin the policy governs: no per-message option overrides
    /// them.
    pub fn pinned(&self, content_type: &str) -> &'static [&'static str] {
        match content_type {
            IMAGE if self.image_max_dimension.is_some() => &[MAX_DIMENSION],
            VOICE if self.voice_distort.as_ref().is_some_and(|r| r.value) => &[DISTORT],
            _ => &[],
        }
    }

    /// Whether the local API may listen on `addr`.
    pub fn admit_api(&self, addr: SocketAddr) -> Result<(), Refusal> {
        match &self.api_loopback_only {
            Some(rule) if rule.value && !addr.ip().is_loopback() => Err(refuse(
                &rule.at,
                format!(
                    "lets the API listen on loopback only, not {addr}; bind it to 127.0.0.1 and reach it through an SSH tunnel if you must"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Whether a conversation may have `timer`.
    pub fn admit_timer(&self, timer: Timer) -> Result<(), Refusal> {
        match &self.disappear_within {
            Some(rule) if !timer.within(rule.value) => Err(refuse(
                &rule.at,
                format!(
                    "deletes every message within {} at most; pick a timer of {} or less",
                    rule.value, rule.value
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Whether a conversation whose user did not choose sends read receipts: only where the
    /// profile says so, since a receipt tells the contact when the user was here.
    pub fn receipts_by_default(&self) -> bool {
        self.read_receipts.as_ref().is_some_and(|r| r.value)
    }

    /// The timer a conversation has when nobody set one, and the longest any may have.
    pub fn longest_timer(&self) -> Timer {
        self.disappear_within
            .as_ref()
            .map_or(Timer::OFF, |r| r.value)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::Config;

    const POLICY: &str = r#"[policy]
never-reveal = ["presence", "location"]
transports = ["transport-tor", "transport-drive"]
never-grant = ["ble"]
max-tcp-scope = "lan"
image-max-dimension = 1600
voice-distort = true
api-loopback-only = true
disappear-within = "7d"
"#;

    fn config(rest: &str) -> Config {
        Config::parse(&format!("{POLICY}{rest}"), "p.toml", Path::new("/")).unwrap()
    }

    fn refusal(rest: &str) -> String {
        let config = config(rest);
        let entry = &config.plugins[0];
        config.policy.admit(entry).unwrap_err().to_string()
    }

    #[test]
    fn each_rule_refuses_what_breaks_it_and_names_its_line() {
        let cases = [
            (
                "[transports.lan]\nplugin = \"transport-lan\"\ngrant = [\"tcp\"]\n",
                "`policy.transports` (line 3) lets only transport-tor, transport-drive run",
            ),
            (
                "[transports.tor]\nplugin = \"transport-tor\"\ngrant = [\"ble\"]\n",
                "`policy.never-grant` (line 4) never grants `ble`",
            ),
            (
                "[transports.tor]\nplugin = \"transport-tor\"\ngrant = [\"tcp\"]\ntcp_scope = \"any\"\n",
                "`policy.max-tcp-scope` (line 5) lets `tcp` reach no further than the lan scope",
            ),
            (
                "[transports.drive]\nplugin = \"transport-drive\"\ngrant = [\"mdns\"]\n",
                "`policy.never-reveal` (line 2) forbids revealing presence, which its grants make possible",
            ),
        ];
        for (rest, expected) in cases {
            let refused = refusal(rest);
            assert!(
                refused.contains(expected),
                "{refused:?} should say {expected:?}"
            );
        }
        let ok = config("[transports.tor]\nplugin = \"transport-tor\"\ngrant = [\"tor-stream\"]\n");
        assert_eq!(ok.policy.admit(&ok.plugins[0]), Ok(()));
    }

    #[test]
    fn what_a_transport_declares_is_held_to_never_reveal() {
        use crate::capability::Reveal;
        let policy = config("").policy;
        assert_eq!(policy.admit_transport(&[Reveal::IpAddress]), Ok(()));
        let refused = policy.admit_transport(&[Reveal::IpAddress, Reveal::Location]);
        assert!(
            refused
                .unwrap_err()
                .message
                .contains("forbids revealing location, which it declares")
        );
    }

    #[test]
    fn images_and_voice_notes_must_be_set_as_the_policy_requires() {
        let check = |section: &str, content_type: &str| {
            let config = config(section);
            config
                .policy
                .admit_message_type(&config.plugins[0], content_type)
        };
        let image = |settings: &str| {
            check(
                &format!("[message_types.image]\nplugin = \"image\"\n{settings}"),
                "courier/image",
            )
        };
        assert_eq!(image("settings = { max-dimension = 1600 }\n"), Ok(()));
        assert_eq!(image("settings = { max-dimension = 800 }\n"), Ok(()));
        for bad in [
            "settings = { max-dimension = 2048 }\n",
            "",
            "settings = { max-dimension = \"big\" }\n",
        ] {
            let refused = image(bad).unwrap_err();
            assert_eq!(refused.rule.line, 6, "{bad}");
            assert!(
                refused.message.contains("max-dimension = 1600"),
                "{refused}"
            );
        }
        let voice = |settings: &str| {
            check(
                &format!("[message_types.voice]\nplugin = \"voice\"\n{settings}"),
                "courier/voice",
            )
        };
        assert_eq!(voice("settings = { distort = true }\n"), Ok(()));
        let refused = voice("settings = { distort = false }\n").unwrap_err();
        assert!(refused.to_string().contains("`policy.voice-distort` (line 7) requires every voice note distorted; set settings = { distort = true }"), "{refused}");
        assert!(voice("").is_err());
        // A plugin of another type is not held to either rule.
        assert_eq!(
            check("[message_types.text]\nplugin = \"text\"\n", "courier/text"),
            Ok(())
        );
        let policy = config("").policy;
        assert_eq!(policy.pinned("courier/image"), ["max-dimension"]);
        assert_eq!(policy.pinned("courier/voice"), ["distort"]);
        assert!(policy.pinned("courier/text").is_empty());
    }

    #[test]
    fn the_api_stays_on_loopback_and_timers_within_the_least_the_profile_asks() {
        use courier_proto::sync::timer::Timer;
        let policy = config("").policy;
        assert_eq!(policy.admit_api("127.0.0.1:7000".parse().unwrap()), Ok(()));
        let refused = policy
            .admit_api("0.0.0.0:7000".parse().unwrap())
            .unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("`policy.api-loopback-only` (line 8)"),
            "{refused}"
        );
        let in_file = Config::parse(
            &format!("{POLICY}[api]\nbind = \"192.168.1.2:7000\"\n"),
            "p.toml",
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            in_file.contains("`api.bind` (line 11)") && in_file.contains("loopback only"),
            "{in_file}"
        );
        // The line is the key's own, not the first place the word appears.
        let after_a_comment = Config::parse(
            &format!(
                "# bind nothing beyond loopback\n{POLICY}[api]\nbind = \"192.168.1.2:7000\"\n"
            ),
            "p.toml",
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            after_a_comment.contains("`api.bind` (line 12)"),
            "{after_a_comment}"
        );
        let week: Timer = "7d".parse().unwrap();
        assert_eq!(policy.longest_timer(), week);
        assert_eq!(policy.admit_timer("1d".parse().unwrap()), Ok(()));
        assert_eq!(policy.admit_timer(week), Ok(()));
        assert!(policy.admit_timer("8d".parse().unwrap()).is_err());
        assert!(
            policy
                .admit_timer(Timer::OFF)
                .unwrap_err()
                .message
                .contains("within 7 days")
        );
        assert_eq!(
            Config::parse("", "e.toml", Path::new("/"))
                .unwrap()
                .policy
                .longest_timer(),
            Timer::OFF
        );
    }

    #[test]
    fn read_receipts_are_off_unless_the_profile_turns_them_on() {
        let receipts = |text: &str| {
            Config::parse(text, "p.toml", Path::new("/"))
                .unwrap()
                .policy
                .receipts_by_default()
        };
        assert!(!receipts(""));
        assert!(!receipts("[policy]\nread-receipts = false\n"));
        assert!(receipts("[policy]\nread-receipts = true\n"));
        let err = Config::parse(
            "[policy]\nread-receipts = \"yes\"\n",
            "p.toml",
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 2"), "{err:?}");
        // No shipped profile sends them where the user did not turn them on; high-risk says so.
        let profiles = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        for name in ["demo", "everyday", "high-risk", "offline"] {
            let path = profiles.join(format!("{name}.toml"));
            let config = Config::read(&path).unwrap();
            assert!(!config.policy.receipts_by_default(), "{name}");
            let stated = config.policy.read_receipts.map(|r| r.value);
            assert_eq!(stated, (name == "high-risk").then_some(false), "{name}");
        }
    }

    #[test]
    fn a_rule_that_does_not_parse_is_refused_at_its_line() {
        let bad = [
            (
                "[policy]\nnever-reveal = [\"gps\"]\n",
                "`policy.never-reveal` (line 2)",
                "not something a transport reveals",
            ),
            (
                "[policy]\nnever-grant = [\"teleport\"]\n",
                "`policy.never-grant` (line 2)",
                "unknown capability",
            ),
            (
                "[policy]\ndisappear-within = \"off\"\n",
                "`policy.disappear-within` (line 2)",
                "cannot be off",
            ),
            (
                "[policy]\ndisappear-within = \"30s\"\n",
                "`policy.disappear-within` (line 2)",
                "not a timer",
            ),
            (
                "[policy]\nnever-revael = []\n",
                "line 2",
                "unknown field `never-revael`",
            ),
        ];
        for (text, at, message) in bad {
            let err = Config::parse(text, "p.toml", Path::new("/"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(at) && err.contains(message), "{err:?}");
        }
    }
}
