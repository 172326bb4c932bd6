//! The built-in country table: ISO 3166-1 alpha-2 code, English short name,
//! continent and ISO 4217 currency, sorted by code for binary search.

/// One country.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code, upper case.
    pub code: &'static str,
    /// English short name.
    pub name: &'static str,
    /// Continent, one of Africa, Asia, Europe, North America, Oceania and
    /// South America.
    pub continent: &'static str,
    /// ISO 4217 code of the main currency.
    pub currency: &'static str,
}

const fn c(
    code: &'static str,
    name: &'static str,
    continent: &'static str,
    currency: &'static str,
) -> Country {
    Country {
        code,
        name,
        continent,
        currency,
    }
}

const AF: &str = "Africa";
const AS: &str = "Asia";
const EU: &str = "Europe";
const NA: &str = "North America";
const OC: &str = "Oceania";
const SA: &str = "South America";

/// Every known country, sorted by code.
pub static COUNTRIES: &[Country] = &[
    c("AE", "United Arab Emirates", AS, "AED"),
    c("AR", "Argentina", SA, "ARS"),
    c("AT", "Austria", EU, "EUR"),
    c("AU", "Australia", OC, "AUD"),
    c("BD", "Bangladesh", AS, "BDT"),
    c("BE", "Belgium", EU, "EUR"),
    c("BR", "Brazil", SA, "BRL"),
    c("CA", "Canada", NA, "CAD"),
    c("CH", "Switzerland", EU, "CHF"),
    c("CL", "Chile", SA, "CLP"),
    c("CN", "China", AS, "CNY"),
    c("CO", "Colombia", SA, "COP"),
    c("CR", "Costa Rica", NA, "CRC"),
    c("CZ", "Czechia", EU, "CZK"),
    c("DE", "Germany", EU, "EUR"),
    c("DK", "Denmark", EU, "DKK"),
    c("DZ", "Algeria", AF, "DZD"),
    c("EE", "Estonia", EU, "EUR"),
    c("EG", "Egypt", AF, "EGP"),
    c("ES", "Spain", EU, "EUR"),
    c("ET", "Ethiopia", AF, "ETB"),
    c("FI", "Finland", EU, "EUR"),
    c("FJ", "Fiji", OC, "FJD"),
    c("FR", "France", EU, "EUR"),
    c("GB", "United Kingdom", EU, "GBP"),
    c("GH", "Ghana", AF, "GHS"),
    c("GR", "Greece", EU, "EUR"),
    c("HK", "Hong Kong", AS, "HKD"),
    c("HR", "Croatia", EU, "EUR"),
    c("HU", "Hungary", EU, "HUF"),
    c("ID", "Indonesia", AS, "IDR"),
    c("IE", "Ireland", EU, "EUR"),
    c("IL", "Israel", AS, "ILS"),
    c("IN", "India", AS, "INR"),
    c("IS", "Iceland", EU, "ISK"),
    c("IT", "Italy", EU, "EUR"),
    c("JP", "Japan", AS, "JPY"),
    c("KE", "Kenya", AF, "KES"),
    c("KR", "South Korea", AS, "KRW"),
    c("LT", "Lithuania", EU, "EUR"),
    c("LU", "Luxembourg", EU, "EUR"),
    c("LV", "Latvia", EU, "EUR"),
    c("MA", "Morocco", AF, "MAD"),
    c("MX", "Mexico", NA, "MXN"),
    c("MY", "Malaysia", AS, "MYR"),
    c("NG", "Nigeria", AF, "NGN"),
    c("NL", "Netherlands", EU, "EUR"),
    c("NO", "Norway", EU, "NOK"),
    c("NZ", "New Zealand", OC, "NZD"),
    c("PE", "Peru", SA, "PEN"),
    c("PH", "Philippines", AS, "PHP"),
    c("PK", "Pakistan", AS, "PKR"),
    c("PL", "Poland", EU, "PLN"),
    c("PT", "Portugal", EU, "EUR"),
    c("QA", "Qatar", AS, "QAR"),
    c("RO", "Romania", EU, "RON"),
    c("SA", "Saudi Arabia", AS, "SAR"),
    c("SE", "Sweden", EU, "SEK"),
    c("SG", "Singapore", AS, "SGD"),
    c("SI", "Slovenia", EU, "EUR"),
    c("SK", "Slovakia", EU, "EUR"),
    c("TH", "Thailand", AS, "THB"),
    c("TR", "T\u{fc}rkiye", AS, "TRY"),
    c("TW", "Taiwan", AS, "TWD"),
    c("TZ", "Tanzania", AF, "TZS"),
    c("UA", "Ukraine", EU, "UAH"),
    c("US", "United States", NA, "USD"),
    c("UY", "Uruguay", SA, "UYU"),
    c("VN", "Vietnam", AS, "VND"),
    c("ZA", "South Africa", AF, "ZAR"),
];

/// Looks up a country by its alpha-2 code, in any letter case.
pub fn lookup(code: &str) -> Option<&'static Country> {
    let code = code.as_bytes();
    if code.len() != 2 {
        return None;
    }
    let upper = [code[0].to_ascii_uppercase(), code[1].to_ascii_uppercase()];
    COUNTRIES
        .binary_search_by(|country| country.code.as_bytes().cmp(&upper[..]))
        .ok()
        .map(|i| &COUNTRIES[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_large_enough() {
        assert!(COUNTRIES.len() >= 40);
        assert!(COUNTRIES.windows(2).all(|pair| pair[0].code < pair[1].code));
        for country in COUNTRIES {
            assert_eq!(country.code.len(), 2);
            assert!(country.code.bytes().all(|b| b.is_ascii_uppercase()));
            assert_eq!(country.currency.len(), 3);
        }
    }

    #[test]
    fn looks_up_codes_in_any_case() {
        assert_eq!(lookup("DE").map(|c| c.name), Some("Germany"));
        assert_eq!(lookup("jp").map(|c| c.currency), Some("JPY"));
        assert_eq!(lookup("Us").map(|c| c.continent), Some("North America"));
        assert_eq!(lookup("XX"), None);
        assert_eq!(lookup("DEU"), None);
        assert_eq!(lookup(""), None);
        assert_eq!(lookup("\u{e9}"), None);
    }
}
