// Which language a comment is written in, for the `lang` attribute (fonts, hyphenation,
// screen reader voice). The API does not say, so it is read from the letters: Sorani and
// Arabic share a script but Sorani has letters Arabic lacks (ە ێ ۆ ڕ ڵ ڤ) and writes ی ک
// for Arabic's ي ك; Kurmanji is Latin with ê î û ç ş and its own small words.

const ARABIC_SCRIPT = /[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]/g;
const SORANI = /[\u06D5\u06CE\u06C6\u0695\u06B5\u06A4\u06CC\u06A9\u06AF]/g;
const ARABIC_ONLY = /[\u064A\u0643\u0629\u0649]/g;
const LATIN = /[A-Za-z\u00C0-\u024F]/g;
const KURMANJI_LETTERS = /[êîûçşÊÎÛÇŞ]/g;
const KURMANJI_WORDS = new Set(["û", "ji", "bi", "di", "li", "ku", "jî", "ev", "ew", "me",
  "wan", "min", "te", "ne", "heye", "nîne", "kurd", "kurdan", "gelek", "lê", "da", "re",
  "vê", "wê", "yên", "ên", "ya", "yê", "hatin", "dikin", "bû", "in", "em", "hûn"]);
const ENGLISH_WORDS = new Set(["the", "and", "of", "to", "is", "in", "that", "this", "it",
  "for", "are", "was", "with", "they", "not", "be", "on", "have", "you", "what", "who"]);

function count(text, pattern) {
  return (text.match(pattern) || []).length;
}

export function detectLang(text) {
  if (!text) return null;
  const arabic = count(text, ARABIC_SCRIPT);
  const latin = count(text, LATIN);
  if (arabic === 0 && latin === 0) return null;
  if (arabic >= latin) {
    return count(text, SORANI) > count(text, ARABIC_ONLY) ? "ckb" : "ar";
  }
  const words = text.toLowerCase().split(/[^\p{L}]+/u).filter(Boolean);
  let kurmanji = count(text, KURMANJI_LETTERS) * 2;
  let english = 0;
  for (const word of words) {
    if (KURMANJI_WORDS.has(word)) kurmanji += 1;
    if (ENGLISH_WORDS.has(word)) english += 1;
  }
  return kurmanji > english ? "kmr" : "en";
}

export const LANGUAGES = { en: "English", ar: "Arabic", ckb: "Sorani", kmr: "Kurmanji" };
