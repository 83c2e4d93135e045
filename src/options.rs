//! Values wharf is given on its command line or in its environment, each
//! parsed once: durations, key material, proxy addresses.

use std::fmt;
use std::str::FromStr;

use base64::Engine;

/// A duration typed as `90`, `90s`, `30m`, `12h` or `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub i64);

impl FromStr for Seconds {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
        let n: i64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like 30m or 12h"))?;
        let mult = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            _ => return Err(format!("{s:?}: use s, m, h or d")),
        };
        n.checked_mul(mult)
            .filter(|v| *v > 0)
            .map(Seconds)
            .ok_or_else(|| format!("{s:?} is out of range"))
    }
}

/// How often a thing is done: a duration like `Seconds`, or `0` for never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every(pub Option<i64>);

impl FromStr for Every {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "0" {
            return Ok(Self(None));
        }
        s.parse::<Seconds>().map(|d| Self(Some(d.0)))
    }
}

/// Addresses and ranges of trusted reverse proxies: `10.0.0.5, 10.1.0.0/16`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyList(pub Vec<ipnet::IpNet>);

impl ProxyList {
    /// Loopback only: a proxy on the same machine (the default).
    pub fn loopback() -> Self {
        use ipnet::IpNet;
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        let one = |ip: IpAddr| IpNet::from(ip);
        let v4 = ipnet::Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8)
            .map_or_else(|_| one(Ipv4Addr::LOCALHOST.into()), IpNet::V4);
        Self(vec![v4, one(Ipv6Addr::LOCALHOST.into())])
    }

    /// Whether a peer address is one of the trusted proxies.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl FromStr for ProxyList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{p:?} is not an IP address or CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// Key material from the environment; never printed.
#[derive(Clone)]
pub struct KeyBytes(pub Vec<u8>);

impl FromStr for KeyBytes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map(KeyBytes)
            .map_err(|_| "the key is not valid base64".to_owned())
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A secret given as text (the OpenID client secret); never printed.
#[derive(Clone)]
pub struct SecretText(pub String);

impl From<&str> for SecretText {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!("90".parse::<Seconds>(), Ok(Seconds(90)));
        assert_eq!("30m".parse::<Seconds>(), Ok(Seconds(1800)));
        assert_eq!("12h".parse::<Seconds>(), Ok(Seconds(43200)));
        assert!("0".parse::<Seconds>().is_err());
        assert!("5y".parse::<Seconds>().is_err());
        assert!("h".parse::<Seconds>().is_err());
    }
}
