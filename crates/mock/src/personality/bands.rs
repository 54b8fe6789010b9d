//! Age bands and what a story writer needs to know about each: reading level, tone,
//! writing guidelines, and which facets run high at that age anyway.
//!
//! Reading levels follow US school grades (a child starts Grade 1 at about six) and
//! the typical Lexile text measures per grade that MetaMetrics published with the
//! 2012 Common Core text complexity bands (Grade 1: 190L–530L ... Grade 7:
//! 970L–1120L). Stories for three- to five-year-olds are read aloud, so their level
//! is "BR" (beginning reader) and what matters is listening vocabulary.

use gatebench_wire::personality::ReadingLevel;

use super::facets::Facet;

/// One of the three age bands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgeBand {
    /// 3–5: picture books, read aloud.
    EarlyYears,
    /// 6–8: early readers and first chapter books.
    Primary,
    /// 9–12: middle-grade fiction.
    MiddleGrade,
}

impl AgeBand {
    /// The band of a (valid) age.
    pub fn of(age: i64) -> AgeBand {
        match age {
            ..=5 => AgeBand::EarlyYears,
            6..=8 => AgeBand::Primary,
            _ => AgeBand::MiddleGrade,
        }
    }

    /// `"3-5"`, `"6-8"` or `"9-12"`.
    pub fn label(self) -> &'static str {
        match self {
            AgeBand::EarlyYears => "3-5",
            AgeBand::Primary => "6-8",
            AgeBand::MiddleGrade => "9-12",
        }
    }

    /// How strong each facet is before interests are counted: the dispositions
    /// children of that age commonly show.
    pub fn base_score(self, facet: Facet) -> f64 {
        use Facet::*;
        match (self, facet) {
            (AgeBand::EarlyYears, Curiosity | Energy) => 0.55,
            (AgeBand::EarlyYears, Humor | Creativity) => 0.5,
            (AgeBand::EarlyYears, Kindness) => 0.45,
            (AgeBand::EarlyYears, Adventure | Teamwork) => 0.4,
            (AgeBand::EarlyYears, Calm | Logic | Persistence) => 0.3,
            (AgeBand::Primary, Curiosity | Energy | Humor) => 0.5,
            (AgeBand::Primary, Creativity | Teamwork | Adventure) => 0.45,
            (AgeBand::Primary, Kindness | Logic | Persistence) => 0.4,
            (AgeBand::Primary, Calm) => 0.35,
            (AgeBand::MiddleGrade, Curiosity | Logic | Humor) => 0.45,
            (AgeBand::MiddleGrade, Persistence | Teamwork | Kindness) => 0.45,
            (AgeBand::MiddleGrade, Creativity | Adventure) => 0.42,
            (AgeBand::MiddleGrade, Energy | Calm) => 0.4,
        }
    }

    /// The reading level for a (valid) age.
    pub fn reading_level(age: i64) -> ReadingLevel {
        let (grade, lexile, words, description) = match age {
            ..=4 => (
                "Pre-K",
                "BR",
                6,
                "Read aloud: short, rhythmic sentences and everyday words a preschooler knows by ear.",
            ),
            5 => (
                "Kindergarten",
                "BR",
                7,
                "Read aloud, with a few sight words a new reader can spot on the page.",
            ),
            6 => (
                "Grade 1",
                "190L-530L",
                8,
                "Early reader: decodable words, simple sentences, lots of repetition.",
            ),
            7 => (
                "Grade 2",
                "420L-650L",
                10,
                "Early reader: simple and compound sentences, a few new words explained by context.",
            ),
            8 => (
                "Grade 3",
                "520L-820L",
                11,
                "First chapter books: short chapters, dialogue, and a growing vocabulary.",
            ),
            9 => (
                "Grade 4",
                "740L-940L",
                13,
                "Independent reader: longer paragraphs, varied sentences, some figurative language.",
            ),
            10 => (
                "Grade 5",
                "830L-1010L",
                14,
                "Middle grade: multi-scene plots, richer vocabulary, inner thoughts of characters.",
            ),
            11 => (
                "Grade 6",
                "925L-1070L",
                15,
                "Middle grade: subplots, complex sentences and themes worth discussing.",
            ),
            _ => (
                "Grade 7",
                "970L-1120L",
                16,
                "Upper middle grade: nuanced characters, layered themes and mature (not adult) stakes.",
            ),
        };
        ReadingLevel {
            grade: grade.to_owned(),
            lexile: lexile.to_owned(),
            words_per_sentence: words,
            description: description.to_owned(),
        }
    }

    /// How a story should sound, given the child's strongest facet.
    pub fn tone(self, top: Facet) -> &'static str {
        use Facet::*;
        #[derive(Clone, Copy)]
        enum Mood {
            Wonder,
            Make,
            Play,
            Heart,
            Puzzle,
        }
        let mood = match top {
            Curiosity | Adventure => Mood::Wonder,
            Creativity => Mood::Make,
            Energy | Humor => Mood::Play,
            Kindness | Teamwork | Calm => Mood::Heart,
            Logic | Persistence => Mood::Puzzle,
        };
        match (self, mood) {
            (AgeBand::EarlyYears, Mood::Wonder) => "gentle and full of wonder",
            (AgeBand::EarlyYears, Mood::Make) => "whimsical and dreamy",
            (AgeBand::EarlyYears, Mood::Play) => "silly, bouncy and playful",
            (AgeBand::EarlyYears, Mood::Heart) => "warm, cozy and reassuring",
            (AgeBand::EarlyYears, Mood::Puzzle) => {
                "cheerful and encouraging, with simple patterns to spot"
            }
            (AgeBand::Primary, Mood::Wonder) => "upbeat and adventurous, with a sense of discovery",
            (AgeBand::Primary, Mood::Make) => "imaginative and playful",
            (AgeBand::Primary, Mood::Play) => "lively and funny",
            (AgeBand::Primary, Mood::Heart) => "warm and heartfelt",
            (AgeBand::Primary, Mood::Puzzle) => "encouraging, with puzzles to solve along the way",
            (AgeBand::MiddleGrade, Mood::Wonder) => {
                "adventurous, with real stakes and moments of awe"
            }
            (AgeBand::MiddleGrade, Mood::Make) => "inventive and lyrical",
            (AgeBand::MiddleGrade, Mood::Play) => "witty and fast-paced",
            (AgeBand::MiddleGrade, Mood::Heart) => "sincere and thoughtful",
            (AgeBand::MiddleGrade, Mood::Puzzle) => {
                "clever and suspenseful, with a mystery to crack"
            }
        }
    }

    /// What a writer for this age band keeps to, most general first.
    pub fn guidelines(self) -> &'static [&'static str] {
        match self {
            AgeBand::EarlyYears => &[
                "Keep sentences short, about 5 to 8 words, in the present or simple past tense.",
                "Use repetition, rhyme and a refrain the child can join in with.",
                "Choose concrete, everyday words and name feelings simply (happy, sad, cross, scared).",
                "Keep conflict gentle and solve it quickly and kindly; no villains, real danger or scary images.",
                "Aim for 300 to 600 words, with a picture-worthy moment on every page.",
                "End with comfort and safety: home, a hug, or bedtime.",
            ],
            AgeBand::Primary => &[
                "Keep sentences to about 8 to 12 words, mostly simple and compound.",
                "Introduce only a few new words per story and make their meaning clear from context.",
                "Give the hero a clear problem that they solve through their own effort.",
                "Mild suspense is welcome; keep peril brief and the hero never truly alone.",
                "Aim for 800 to 2,000 words in short scenes, with plenty of dialogue.",
                "Humor, friendship, fairness and cooperation land well at this age.",
            ],
            AgeBand::MiddleGrade => &[
                "Vary sentence length, up to about 20 words; let dialogue carry character.",
                "Richer vocabulary and figurative language are welcome.",
                "Give real stakes and moral choices; characters may fail, learn and grow.",
                "Aim for 1,500 to 5,000 words, with a subplot or a twist.",
                "Themes of identity, friendship, fairness and independence resonate.",
                "Avoid graphic violence and romance beyond a crush; resolve the main conflict with hope.",
            ],
        }
    }
}
