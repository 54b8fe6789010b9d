//! The word tables behind the embedder's [`Lexicon`](crate::lexicon::Lexicon):
//! words that carry little meaning, words common in the shipped domains, words
//! that change a question's meaning without naming its subject, synonyms and
//! irregular forms, and multi-word phrases.
//!
//! Entries are plain words; the lexicon normalises them through the same
//! stemmer as the text, so an entry never has to guess a stem. Synonyms are
//! those of everyday English and of the domains gatebench ships prompts for
//! (children's stories, sustainability, customer support).

/// Weight of words that carry almost no meaning of their own (articles, pronouns,
/// auxiliaries, politeness, the verbs people wrap a request in).
pub const STOP: f32 = 0.05;
/// Weight of words common across a domain's traffic: they say what kind of
/// request it is, not which one.
pub const COMMON: f32 = 0.3;
/// Weight of words that change what is asked without naming its subject
/// (negation, "when", "why", "instead"). Common as they are, rarity never lowers
/// them: "my parcel did not arrive" is not "where is my parcel".
pub const SHAPE: f32 = 0.8;

/// Words weighed [`STOP`].
#[rustfmt::skip]
pub const STOPWORDS: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "am", "to", "of",
    "and", "or", "but", "in", "on", "at", "by", "for", "with", "from", "into", "onto", "as",
    "so", "than", "then", "that", "this", "these", "those", "it", "its", "i", "me", "my",
    "mine", "myself", "we", "us", "our", "ours", "you", "your", "yours", "he", "him", "his",
    "she", "her", "hers", "they", "them", "their", "there", "here", "what", "which", "who",
    "whom", "whose", "how", "do", "does", "did", "doing", "done", "can", "could", "would",
    "should", "will", "shall", "may", "might", "have", "has", "had", "having", "please",
    "kindly", "thanks", "thank", "hi", "hello", "hey", "some", "any", "just", "also", "very",
    "really", "too", "about", "tell", "write", "give", "explain", "describe", "want", "like",
    "love", "need", "know", "let", "get", "getting", "go", "going", "idea", "okay", "ok", "if",
    "whether", "one", "way", "ways", "something", "anything", "thing", "things", "lot", "bit",
    "quick", "quickly", "possible", "able", "option", "options", "use", "using", "used",
    "happen", "happens", "help", "sure", "story", "stories", "tale", "s", "t", "re", "ve", "ll",
    "d", "m", "again", "still", "already", "now", "just", "actually", "point", "view", "best",
    "good", "well", "much", "many", "up", "out", "find", "see", "try", "tries", "set", "yet",
    "off", "come", "comes", "came", "other", "another", "every", "each", "own", "same", "more",
    "most", "mean", "anything", "means", "meant", "meaning", "define", "definition", "overview",
    "think", "believe", "someone", "offer", "provide", "even", "though", "although", "despite",
    "until", "once", "after", "usually", "ago", "few", "list", "method", "approach", "process",
    "team", "attempt", "attempts", "attempted", "simply",
];

/// Words weighed at most [`COMMON`].
#[rustfmt::skip]
pub const COMMON_WORDS: &[&str] = &[
    "bedtime", "funny", "little", "child", "girl", "boy", "friend", "day", "night", "learn",
    "company", "business", "emission", "carbon", "climate", "sustainability", "esg", "report",
    "reporting", "data", "calculate", "reduce", "require", "differ", "first", "step", "new",
    "customer", "support", "based", "buy", "accept", "place", "existing", "exist", "change",
    "start", "work", "time", "long", "year", "people", "product", "make", "keep", "become",
    "take", "say", "says", "said", "show", "available", "version", "impact", "decide", "join",
    "enter", "arrive",
];

/// Words weighed [`SHAPE`], whatever their rarity.
pub const SHAPE_WORDS: &[&str] = &["not", "when", "why", "instead", "only"];

/// `(word, ask)`: words that say what kind of answer a text asks for, whatever it
/// is about. Two texts that ask for different kinds ("a poem about a pigeon",
/// "three facts about a pigeon") want different answers however much of their
/// subject they share; see `features.rs` for how the ask is weighed.
///
/// Asking for an explanation, a definition, a list or a comparison is the
/// default and has no entry: "what are the 15 Scope 3 categories" and "list the 15
/// Scope 3 categories" ask for the same answer, as do "explain X" and "what is X".
#[rustfmt::skip]
pub const ASKS: &[(&str, &str)] = &[
    ("story", "story"), ("stories", "story"), ("tale", "story"), ("tales", "story"),
    ("fable", "story"), ("fables", "story"), ("fairytale", "story"),
    ("poem", "poem"), ("poems", "poem"), ("poetry", "poem"), ("verse", "poem"),
    ("verses", "poem"), ("rhyme", "poem"), ("rhymes", "poem"), ("rhyming", "poem"),
    ("haiku", "poem"), ("limerick", "poem"), ("sonnet", "poem"),
    ("song", "song"), ("songs", "song"), ("lyrics", "song"), ("lullaby", "song"),
    ("lullabies", "song"), ("jingle", "song"),
    ("joke", "joke"), ("jokes", "joke"), ("pun", "joke"), ("puns", "joke"),
    ("fact", "facts"), ("facts", "facts"), ("trivia", "facts"),
    ("summary", "summary"), ("summaries", "summary"), ("summarise", "summary"),
    ("summarize", "summary"), ("recap", "summary"), ("tldr", "summary"),
    ("translate", "translation"), ("translation", "translation"),
    ("translations", "translation"),
];

/// `(form, canonical)`: the form is read as the canonical word. Irregular forms
/// and spelling variants come first, then synonyms within the domains gatebench
/// ships prompts for (children's stories, sustainability, customer support).
#[rustfmt::skip]
pub const SYNONYMS: &[(&str, &str)] = &[
    // irregular forms and spelling variants
    ("children", "child"), ("kids", "child"), ("kid", "child"), ("kiddo", "child"),
    ("son", "child"), ("daughter", "child"), ("toddlers", "toddler"), ("mice", "mouse"),
    ("teeth", "tooth"), ("feet", "foot"), ("geese", "goose"), ("men", "man"),
    ("women", "woman"), ("people", "person"), ("went", "go"), ("goes", "go"), ("gone", "go"),
    ("lost", "lose"), ("loses", "lose"), ("losing", "lose"), ("got", "get"), ("gets", "get"),
    ("made", "make"), ("told", "tell"), ("wrote", "write"), ("written", "write"),
    ("sent", "send"), ("bought", "buy"), ("found", "find"), ("thought", "think"),
    ("taught", "teach"), ("teaches", "teach"), ("teaching", "teach"), ("flew", "fly"),
    ("flies", "fly"), ("flying", "fly"), ("sang", "sing"), ("sung", "sing"), ("sings", "sing"),
    ("singing", "sing"), ("ran", "run"), ("came", "come"), ("saw", "see"), ("seen", "see"),
    ("seeing", "see"), ("ate", "eat"), ("eaten", "eat"), ("broke", "break"),
    ("broken", "break"), ("breaks", "break"), ("fell", "fall"), ("grew", "grow"),
    ("grown", "grow"), ("kept", "keep"), ("left", "leave"), ("paid", "pay"), ("said", "say"),
    ("uses", "use"), ("using", "use"), ("used", "use"), ("does", "do"), ("did", "do"),
    ("has", "have"), ("had", "have"), ("having", "have"), ("was", "be"), ("were", "be"),
    ("is", "be"), ("are", "be"), ("am", "be"), ("been", "be"), ("favourite", "favorite"),
    ("colour", "color"), ("centre", "center"), ("organisation", "company"),
    ("organization", "company"), ("companies", "company"), ("firm", "company"),
    ("businesses", "business"), ("instalment", "installment"), ("instalments", "installment"),
    ("mom", "mum"), ("mother", "mum"), ("mommy", "mum"), ("dad", "father"), ("daddy", "father"),
    // stories
    ("tale", "story"), ("tales", "story"), ("timid", "shy"), ("scared", "afraid"),
    ("frightened", "afraid"), ("fear", "afraid"), ("fears", "afraid"), ("terrified", "afraid"),
    ("small", "little"), ("tiny", "little"), ("young", "little"), ("baby", "little"),
    ("huge", "big"), ("large", "big"), ("grand", "big"), ("giant", "big"), ("high", "tall"),
    ("courageous", "brave"), ("bunny", "rabbit"), ("bunnies", "rabbit"), ("tortoise", "turtle"),
    ("kitten", "cat"), ("kitty", "cat"), ("puppy", "dog"), ("puppies", "dog"),
    ("woods", "forest"), ("woodland", "forest"), ("sea", "ocean"), ("grandmother", "grandma"),
    ("granny", "grandma"), ("grandfather", "grandpa"), ("silly", "funny"), ("wicked", "evil"),
    ("smart", "clever"), ("outwit", "outsmart"), ("outwits", "outsmart"),
    ("tricks", "outsmart"), ("save", "rescue"), ("saves", "rescue"), ("emotions", "feeling"),
    ("emotion", "feeling"), ("deserted", "empty"), ("discover", "find"), ("discovers", "find"),
    ("travel", "journey"), ("travels", "journey"), ("trip", "journey"), ("voyage", "journey"),
    ("magical", "magic"), ("alive", "life"), ("veggies", "vegetable"), ("worried", "nervous"),
    ("anxious", "nervous"), ("ashamed", "embarrassed"), ("excluded", "leave_out"),
    ("battling", "fight"), ("battle", "fight"), ("fighting", "fight"), ("wish", "want"),
    ("wishes", "want"), ("wishing", "want"), ("dream", "want"), ("dreams", "want"),
    ("dreaming", "want"), ("narrated", "tell"), ("elderly", "old"), ("pals", "friend"),
    ("pal", "friend"), ("buddy", "friend"), ("buddies", "friend"),
    ("poetry", "poem"), ("compose", "write"), ("brief", "short"),
    ("sibling", "brother_sister"), ("siblings", "brother_sister"), ("engine", "truck"),
    // sustainability
    ("co2", "carbon"), ("cutting", "reduce"), ("cut", "reduce"), ("lower", "reduce"),
    ("lowering", "reduce"), ("decrease", "reduce"), ("compute", "calculate"),
    ("calculation", "calculate"), ("methodology", "method"), ("staff", "employee"),
    ("workforce", "employee"), ("workers", "employee"), ("vendors", "supplier"),
    ("gather", "collect"), ("gathering", "collect"), ("difference", "differ"),
    ("different", "differ"), ("differences", "differ"), ("versus", "differ"), ("vs", "differ"),
    ("compare", "differ"), ("goals", "target"), ("goal", "target"), ("disclosure", "disclose"),
    ("disclosures", "disclose"), ("requirements", "require"), ("requirement", "require"),
    ("required", "require"), ("requires", "require"), ("cows", "cow"), ("cattle", "cow"),
    ("rooftop", "roof"), ("exec", "executive"), ("executives", "executive"),
    ("remuneration", "pay"), ("compensation", "pay"), ("tie", "link"), ("tied", "link"),
    ("neutrality", "neutral"), ("begin", "start"), ("initial", "first"), ("steps", "step"),
    ("consumption", "use"), ("usage", "use"), ("judge", "assess"), ("evaluate", "assess"),
    ("evaluation", "assess"), ("assessment", "assess"), ("conduct", "run"), ("perform", "run"),
    ("implications", "impact"), ("affect", "impact"), ("affects", "impact"),
    ("renewables", "renewable"), ("scheme", "system"), ("contents", "include"),
    ("elements", "include"), ("screen", "check"), ("verify", "check"),
    ("trustworthy", "reliable"),
    // support
    ("package", "parcel"), ("shipping", "deliver"), ("ship", "deliver"), ("shipped", "deliver"),
    ("delivery", "deliver"), ("delivered", "deliver"), ("arrived", "arrive"),
    ("received", "arrive"), ("receive", "arrive"), ("abroad", "international"),
    ("internationally", "international"), ("promo", "discount"), ("coupon", "discount"),
    ("voucher", "discount"), ("talk", "speak"), ("representative", "agent"),
    ("person", "human"), ("service", "support"), ("information", "data"), ("info", "data"),
    ("login", "log_in"), ("signin", "log_in"), ("2fa", "two_factor"), ("renewal", "renew"),
    ("renewing", "renew"), ("automatic", "auto"), ("automatically", "auto"),
    ("returnable", "return"), ("returned", "return"), ("returning", "return"),
    ("refunded", "refund"), ("purchase", "buy"), ("purchased", "buy"), ("disable", "turn_off"),
    ("mobile", "phone"), ("cellphone", "phone"), ("yearly", "annual"), ("crashes", "crash"),
    ("faulty", "fault"), ("broken", "fault"), ("defective", "fault"), ("mail", "email"),
    ("payment", "pay"), ("payments", "pay"), ("ask", "request"),
    ("whistleblower", "whistleblowing"), ("complies", "comply"), ("compliant", "comply"),
    ("must", "require"), ("never", "not"), ("no", "not"), ("fee", "cost"), ("fees", "cost"),
    ("price", "cost"), ("date", "when"), ("timeline", "when"), ("situations", "when"),
    ("circumstances", "when"), ("soon", "when"), ("timing", "when"), ("hours", "when"),
    ("asleep", "sleep"), ("ready", "prepare"), ("reason", "why"), ("hold", "keep"),
    ("retain", "keep"), ("retained", "keep"), ("oversight", "oversee"), ("missing", "lose"),
    ("aligned", "align"), ("alignment", "align"), ("beehive", "bee_hive"),
    ("adverts", "advertising"), ("ads", "advertising"), ("advert", "advertising"),
    ("ad", "advertising"), ("enable", "setup"), ("activate", "setup"), ("configure", "setup"),
    ("formula", "calculate"), ("create", "build"), ("understand", "learn"),
    ("individual", "single"), ("necessary", "require"), ("vans", "vehicle"), ("van", "vehicle"),
    ("vehicles", "vehicle"), ("faster", "fast"), ("stronger", "strong"), ("strength", "strong"),
    ("powerful", "strong"), ("charge", "cost"), ("charged", "cost"), ("charges", "cost"),
    ("came", "arrive"), ("come", "arrive"), ("comes", "arrive"), ("kindness", "kind"),
    ("honesty", "honest"), ("superpower", "power"), ("importer", "import"),
    ("importers", "import"), ("spend", "use"), ("notified", "notify"), ("locations", "site"),
    ("location", "site"), ("depends", "link"), ("depend", "link"), ("progressing", "track"),
    ("progress", "track"), ("prefers", "instead"), ("prefer", "instead"), ("raise", "improve"),
    ("better", "improve"), ("wins", "best"), ("champion", "best"),
];

/// `(phrase, replacement)`: multi-word expressions read as one concept. Matched on
/// normalised words, longest first.
#[rustfmt::skip]
pub const PHRASES: &[(&str, &str)] = &[
    ("greenhouse gas", "ghg"), ("greenhouse gases", "ghg"), ("power purchase agreement", "ppa"),
    ("renewable energy certificate", "rec"),
    ("corporate sustainability reporting directive", "csrd"),
    ("corporate sustainability due diligence directive", "csddd"),
    ("eu deforestation regulation", "eudr"), ("deforestation regulation", "eudr"),
    ("carbon border adjustment mechanism", "cbam"), ("emissions trading system", "ets"),
    ("lost time injury frequency rate", "ltifr"), ("power usage effectiveness", "pue"),
    ("science based target initiative", "sbti"), ("carbon neutral", "carbon_neutral"),
    ("net zero", "net_zero"), ("data center", "data_center"), ("work from home", "remote_work"),
    ("working from home", "remote_work"), ("remote work", "remote_work"),
    ("remote working", "remote_work"), ("carbon dioxide", "carbon"),
    ("two factor", "two_factor"), ("2 factor", "two_factor"), ("log in", "log_in"),
    ("sign in", "log_in"), ("locked out", "locked"), ("real person", "human"),
    ("two times", "twice"), ("2 times", "twice"), ("send back", "return"),
    ("send it back", "return"), ("sending back", "return"), ("take back", "return"),
    ("other countries", "international"), ("another country", "international"),
    ("switch down", "downgrade"), ("move down", "downgrade"), ("have to", "require"),
    ("need to", "require"), ("brother and a sister", "brother_sister"),
    ("opening hours", "when open"), ("what time", "when"), ("get ready", "prepare"),
    ("bee hive", "bee_hive"), ("make sense", "worth"), ("worth it", "worth"),
    ("sick at sea", "seasick"), ("on course", "on track"), ("fall asleep", "sleep"),
    ("go to sleep", "sleep"), ("get to sleep", "sleep"), ("money back", "refund"),
    ("opt out", "unsubscribe"), ("turn off", "turn_off"), ("switch off", "turn_off"),
    ("turn on", "setup"), ("switch on", "setup"), ("set up", "setup"), ("how long", "when"),
    ("how much", "cost"), ("what price", "cost"), ("left out", "leave_out"),
    ("come to life", "life"), ("bring to life", "life"), ("come alive", "life"),
    ("before bed", "bedtime"), ("sleepy time", "bedtime"), ("bed time", "bedtime"),
    ("back yard", "backyard"), ("turn into", "become"), ("grow up to be", "become"),
    ("end up", "become"), ("brother or sister", "brother_sister"),
    ("brother and sister", "brother_sister"), ("rather than", "instead"),
    ("instead of", "instead"), ("out of stock", "out_of_stock"),
    ("back in stock", "back_in_stock"), ("available again", "back_in_stock"),
    ("gift card", "gift_card"), ("free trial", "free_trial"), ("next day", "next_day"),
    ("look for", "search"), ("looking for", "search"), ("at school", "school"),
    ("hide and seek", "hide_and_seek"), ("work out", "calculate"), ("figure out", "calculate"),
    ("scope one", "scope 1"), ("scope two", "scope 2"), ("scope three", "scope 3"),
    ("lines of poetry", "poem"), ("in simple terms", "simply"),
    ("fifteen", "15"), ("four", "4"), ("three", "3"), ("two", "2"), ("twelve", "12"),
    ("ten", "10"), ("five", "5"), ("six", "6"), ("seven", "7"), ("eight", "8"), ("nine", "9"),
];
