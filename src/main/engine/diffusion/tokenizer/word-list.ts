/**
 * The demo tokenizer's word list (models/demo/words.txt): common, concrete, lowercase English
 * words of the kind image prompts are made of. The candidates below are the project's own
 * category lists; a word is kept only if Debian's `wamerican` dictionary
 * (/usr/share/dict/american-english, SCOWL size 50) spells it exactly so, in lowercase, which
 * removes typos, proper nouns and oddities. Plurals are added for the nouns in PLURALISABLE
 * when the dictionary has them. Being an allow-list, nothing offensive can slip in.
 *
 * Regenerate: `npx tsx src/main/engine/diffusion/tokenizer/word-list.ts` (needs `wamerican`).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { safeWriteFileSync } from '../../io/safe-write.js';

export const DICTIONARY_PATH = '/usr/share/dict/american-english';

/** Small words that make captions and prompts read as text ("a photo of a cat on the grass"). */
const FUNCTION_WORDS = `
a an the of with in on at by and or for from to into onto over under above below behind beside between
near through across along around against among inside outside without within up down out off away
is are was be being has have its his her their this that these those it he she they we you i my your our
one two three four five six seven eight nine ten many some few several all both each every no not very
more most much little big small full empty next front back top bottom side left right middle center
`;

const CATEGORIES: Record<string, string> = {
  animals: `
    animal dog puppy cat kitten horse pony foal cow calf bull ox sheep lamb goat pig piglet donkey mule
    rabbit bunny hare mouse rat hamster squirrel chipmunk beaver otter badger fox wolf coyote bear cub
    panda koala kangaroo lion lioness tiger leopard cheetah jaguar panther lynx cougar elephant giraffe
    zebra rhinoceros hippopotamus camel llama alpaca deer reindeer moose elk antelope gazelle bison buffalo
    yak monkey ape gorilla chimpanzee orangutan baboon lemur sloth raccoon skunk hedgehog porcupine mole
    bat weasel ferret mink armadillo anteater opossum bird eagle hawk falcon owl raven crow sparrow robin
    pigeon dove parrot macaw cockatoo peacock swan goose duck duckling chicken hen rooster chick turkey
    ostrich emu flamingo pelican penguin seagull gull heron crane stork hummingbird woodpecker kingfisher
    toucan vulture magpie finch canary swallow fish goldfish salmon trout shark whale dolphin porpoise
    seal walrus octopus squid jellyfish starfish crab lobster shrimp oyster clam snail slug turtle
    tortoise frog toad lizard gecko iguana chameleon snake python cobra viper crocodile alligator dinosaur
    dragon butterfly moth bee wasp hornet ant beetle ladybug dragonfly grasshopper cricket spider
    scorpion worm caterpillar firefly mosquito fly insect stallion mare hound terrier poodle bulldog
    collie spaniel retriever beagle dachshund greyhound husky shepherd seahorse eel coral sponge
    tadpole salamander newt bug owlet swordfish stingray manatee narwhal orca tuna cod sardine herring
  `,
  people: `
    person people man woman men women child children kid baby toddler boy girl teenager adult elder
    grandmother grandfather mother father daughter son sister brother family friend couple bride groom
    king queen prince princess emperor empress knight warrior soldier samurai ninja viking pirate sailor
    captain pilot astronaut cowboy farmer fisherman hunter gardener chef cook baker waiter butcher
    doctor nurse surgeon scientist professor teacher student scholar monk priest nun shaman witch wizard
    sorcerer magician alchemist fairy elf dwarf giant goblin troll ogre vampire ghost zombie mummy
    skeleton monster robot android cyborg alien mermaid angel demon god goddess hero heroine villain
    detective police policeman firefighter nurse guard spy thief bandit beggar merchant trader peasant
    lady gentleman servant maid butler clown jester acrobat juggler dancer ballerina singer musician
    guitarist drummer pianist violinist painter artist sculptor photographer model actor actress
    writer poet architect engineer mechanic builder miner blacksmith carpenter tailor shopkeeper
    athlete runner swimmer boxer wrestler skier surfer skater cyclist climber hiker traveler tourist
    explorer nomad refugee crowd audience tribe army navy crew team gang mayor senator president
    monarch lord duke duchess baron countess squire archer gladiator centurion pharaoh sultan chief
    elder hermit pilgrim shepherd milkmaid cyclops centaur minotaur unicorn griffin phoenix sphinx
    gnome imp nymph siren titan werewolf yeti
  `,
  body: `
    face head hair eye eyes nose mouth lips teeth tooth tongue ear ears cheek chin jaw forehead eyebrow
    eyelash beard mustache freckles skin neck shoulder arm arms elbow wrist hand hands finger fingers
    thumb fist nail chest heart back spine waist hip belly leg legs knee ankle foot feet toe toes
    body silhouette portrait profile smile grin frown tear tears blush wrinkle scar tattoo braid
    ponytail bun curls bangs mohawk muscle bone skull wing wings tail horn horns claw claws paw paws
    fur feather feathers scale scales fang fangs mane hoof hooves beak whisker whiskers antler antlers
  `,
  clothing: `
    clothes clothing dress gown skirt shirt blouse sweater jumper cardigan hoodie jacket coat overcoat
    raincoat cloak cape robe kimono tunic vest suit tuxedo uniform armor armour helmet crown tiara
    hat cap beret bonnet hood veil mask scarf shawl tie bowtie collar sleeve glove gloves mitten
    belt buckle pocket button zipper boots boot shoes shoe sandals sneakers slippers heels socks
    stockings jeans trousers pants shorts leggings pajamas apron overalls uniform bikini swimsuit
    necklace bracelet ring earring earrings brooch pendant locket amulet jewel jewelry jewels gem
    glasses sunglasses goggles monocle watch wristwatch purse handbag backpack bag wallet umbrella
    parasol fan corset petticoat lace ribbon bow sash turban headband headscarf wig
  `,
  food: `
    food meal breakfast lunch dinner supper feast picnic bread loaf toast sandwich burger hamburger
    pizza pasta spaghetti noodles rice soup stew salad steak chicken bacon ham sausage egg eggs
    cheese butter milk cream yogurt cake cupcake pie tart cookie cookies biscuit cracker muffin donut
    doughnut pancake waffle croissant bagel pretzel candy chocolate caramel honey jam jelly syrup sugar
    salt pepper spice herbs garlic onion potato potatoes tomato tomatoes carrot carrots cabbage lettuce
    spinach broccoli cauliflower cucumber pumpkin squash zucchini eggplant corn peas beans mushroom
    mushrooms olive olives avocado apple apples pear pears peach peaches plum cherry cherries grape
    grapes strawberry strawberries raspberry blueberry blackberry banana bananas orange oranges lemon
    lime grapefruit melon watermelon pineapple mango papaya coconut kiwi fig figs date dates apricot
    pomegranate nut nuts almond walnut peanut chestnut acorn seed seeds grain wheat oats barley
    coffee tea juice water wine beer whiskey champagne cocktail lemonade soda smoothie ice cream
    dessert pudding custard sushi dumpling dumplings taco burrito curry kebab omelet popcorn fries
    chips cereal porridge gingerbread marshmallow lollipop fruit fruits vegetable vegetables berry
    berries radish beet turnip celery leek ginger cinnamon vanilla mint basil parsley
  `,
  plants: `
    plant plants tree trees forest woods jungle grove orchard garden flower flowers blossom blossoms
    bloom petal petals bud stem leaf leaves branch branches twig root roots trunk bark vine vines ivy
    moss fern ferns grass grasses weed weeds reed reeds bamboo cactus cacti palm pine oak maple birch
    willow cedar cypress redwood sequoia spruce fir elm ash beech aspen poplar sycamore magnolia
    cherry rose roses tulip tulips lily lilies daisy daisies sunflower sunflowers orchid orchids lotus
    poppy poppies lavender violet iris daffodil dandelion clover tulip jasmine hibiscus peony marigold
    carnation chrysanthemum lilac heather thistle shrub shrubs bush bushes hedge hedges mushroom
    toadstool lichen algae seaweed kelp wreath bouquet garland pinecone thorn thorns hay straw wildflower
    wildflowers meadow
  `,
  nature: `
    nature landscape scenery mountain mountains hill hills valley canyon cliff cliffs rock rocks stone
    stones boulder pebble pebbles cave cavern volcano lava crater desert dune dunes sand beach shore
    coast coastline ocean sea bay lagoon island islands peninsula reef wave waves surf tide river
    stream creek brook waterfall lake pond pool spring swamp marsh bog delta glacier iceberg ice snow
    snowflake snowflakes frost field fields prairie plain plains savanna tundra steppe plateau ridge
    peak summit slope horizon sky skies cloud clouds sun sunlight sunshine sunrise sunset dawn dusk
    twilight moon moonlight star stars starlight galaxy nebula planet planets comet meteor asteroid
    universe cosmos space eclipse aurora rainbow rain raindrop raindrops storm thunderstorm thunder
    lightning wind breeze tornado hurricane fog mist haze smoke fire flame flames ember embers ash
    steam dew weather winter spring summer autumn fall season morning noon afternoon evening night
    midnight day daylight shadow shadows light darkness earth soil mud dust dirt clay gravel crystal
    crystals mineral gold silver copper iron diamond ruby emerald sapphire pearl amber jade quartz
    marble granite obsidian shell shells seashell driftwood sandstorm blizzard drizzle puddle puddles
    whirlpool geyser oasis jungle wilderness countryside
  `,
  places: `
    city town village hamlet metropolis street streets road roads avenue alley lane path trail highway
    bridge tunnel square plaza market bazaar harbor harbour port dock pier wharf lighthouse station
    airport park playground stadium arena theater theatre cinema museum gallery library school
    university college hospital church cathedral chapel temple shrine mosque monastery abbey palace
    castle fortress fort citadel tower towers skyscraper skyscrapers building buildings house houses
    home cottage cabin hut shack barn farm farmhouse ranch mansion villa manor estate castle apartment
    hotel inn tavern pub restaurant cafe bakery shop shops store factory warehouse workshop studio
    office laboratory lab prison dungeon crypt tomb grave graveyard cemetery ruins ruin pyramid
    monument statue fountain garden courtyard balcony terrace rooftop roof attic basement cellar
    kitchen bedroom bathroom hallway corridor staircase stairs room rooms hall lobby porch patio
    fence gate wall walls window windows door doors doorway arch archway column columns pillar pillars
    dome spire steeple chimney bell belfry windmill mill dam well canal aqueduct quarry mine farmland
    vineyard greenhouse stable kennel zoo aquarium circus carnival fairground subway train station
    neighborhood suburb slum downtown skyline harbor island kingdom empire realm world land frontier
    outpost camp campsite campfire tent igloo treehouse lair den nest hive burrow
  `,
  household: `
    table chair chairs stool bench sofa couch armchair bed pillow pillows blanket quilt sheet carpet
    rug curtain curtains mirror lamp lantern candle candles chandelier fireplace hearth clock vase pot
    pots pan kettle teapot cup cups mug glass glasses bottle bottles jar jars bowl bowls plate plates
    dish dishes spoon fork knife knives tray basket baskets box boxes crate barrel bucket pail jug
    pitcher goblet chalice cauldron oven stove fridge refrigerator sink bathtub bath shower towel soap
    sponge brush comb broom mop shelf shelves bookshelf bookcase cabinet cupboard drawer desk wardrobe
    closet chest trunk suitcase book books notebook journal diary letter letters envelope paper
    newspaper magazine map maps globe scroll scrolls painting paintings picture pictures photo
    photograph photographs frame frames poster calendar pen pencil pencils crayon crayons ink quill
    brush paintbrush canvas easel palette sculpture statue figurine doll dolls toy toys teddy puppet
    ball balloon balloons kite kites puzzle dice cards chess candle key keys lock padlock chain chains
    rope string thread needle scissors button buttons coin coins money treasure jewel cushion hammock
    cradle crib rocking stroller telephone phone radio television computer laptop keyboard screen
    camera cameras lens microscope telescope compass hourglass candlestick lamppost doorknob
  `,
  objects: `
    tool tools hammer saw axe shovel spade rake hoe pickaxe wrench screwdriver drill nail nails screw
    bolt ladder wheel wheels gear gears engine motor machine machinery pipe pipes wire wires cable
    battery magnet bulb lightbulb switch sign signs banner flag flags badge medal trophy sword swords
    shield spear bow arrow arrows dagger axe cannon gun rifle pistol bomb rocket rockets missile bullet
    armor catapult whip club staff wand orb potion potions spellbook crystal ball amulet talisman
    car cars truck trucks bus buses van taxi tractor bicycle bike motorcycle scooter skateboard train
    trains locomotive tram trolley wagon cart carriage chariot sled sleigh boat boats ship ships yacht
    sailboat canoe kayak raft ferry submarine airplane airplanes plane planes jet helicopter airship
    zeppelin balloon spaceship spacecraft satellite rover robot drone tank anchor oar sail sails mast
    helm compass parachute tire tyre road traffic robot computer circuit chip screen monitor hologram
    laser antenna radar neon billboard lamp clockwork gadget device instrument
    guitar violin cello piano drum drums flute trumpet saxophone harp accordion harmonica banjo
    ukulele organ bell bells horn microphone headphones speaker record gramophone
    football soccer baseball basketball tennis golf hockey racket bat ball net goal skis snowboard
    surfboard helmet dumbbell
  `,
  colours: `
    color colour colors colours red orange yellow green blue purple violet pink brown black white gray
    grey silver gold golden beige tan cream ivory crimson scarlet maroon burgundy ruby cherry rose
    coral salmon peach apricot amber mustard lemon lime olive emerald jade mint teal turquoise aqua
    cyan azure cobalt navy indigo sapphire lavender lilac plum magenta fuchsia mauve charcoal ebony
    onyx pearl bronze copper rust ochre sepia khaki auburn blond blonde brunette chestnut ginger
    pastel neon monochrome rainbow iridescent metallic opal
  `,
  materials: `
    wood wooden stone metal metallic steel iron brass bronze copper tin aluminum chrome gold silver
    glass crystal porcelain ceramic clay marble granite concrete brick bricks tile tiles plaster
    leather fabric cloth cotton wool silk satin velvet linen lace denim canvas felt fur feather paper
    cardboard plastic rubber vinyl wax ice water liquid paint ink chalk charcoal graphite pastel
    watercolor watercolors oil acrylic gouache tempera pencil crayon enamel lacquer ivory bone rope
    straw wicker bamboo cork foam sponge jelly slime smoke fog mist dust sand mud glitter sequins
    beads pearls gemstone gemstones diamond diamonds
  `,
  art: `
    art artwork painting drawing sketch sketches illustration illustrations doodle cartoon comic comics
    anime manga animation render rendering sculpture mosaic mural fresco tapestry collage engraving
    etching woodcut lithograph print poster photograph photography photo snapshot selfie portrait
    landscape still life abstract realism realistic surreal surrealism impressionism impressionist
    expressionism cubism cubist baroque renaissance gothic romantic romanticism minimalism minimalist
    modern contemporary classical vintage retro antique medieval victorian futuristic steampunk
    fantasy sci fiction folk tribal oriental nouveau deco pop graffiti street pixel pixels voxel
    isometric geometric symmetrical symmetry pattern patterns texture textures ornament ornaments
    ornate decorative calligraphy typography logo icon emblem sticker stamp silhouette outline
    lineart stencil origami papercraft embroidery quilt stained glass pottery filigree bust relief
    masterpiece composition perspective panorama panoramic closeup macro aerial wide angle lens bokeh
    focus blur blurry sharp detailed intricate highly detail details hyperrealistic photorealistic
    cinematic dramatic moody atmospheric ethereal dreamy whimsical epic majestic elegant gorgeous
    beautiful pretty cute adorable lovely stunning breathtaking magnificent vivid vibrant colorful
    saturated muted faded grainy film analog polaroid sepia monochrome painterly sketchy gritty
    glossy matte studio lighting backlit backlight spotlight sunlit candlelit moonlit lit glow glowing
    shine shiny shimmering sparkling sparkle twinkling luminous radiant bright dark dim shadowy
    silhouetted reflection reflections refraction highlight highlights contrast exposure scene scenes
    view views background foreground depth style styles artist artists gallery museum exhibition
    concept design designs character characters creature creatures figure figures sketchbook canvas
    frame framed border vignette overlay layer layers palette hue hues tone tones shade shades tint
    gradient
  `,
  adjectives: `
    old young new ancient modern tiny small little large big huge giant enormous massive tall short
    long wide narrow thick thin fat slim skinny round square flat curved straight pointed sharp
    smooth rough soft hard heavy light fluffy fuzzy furry hairy bald spiky prickly bumpy wrinkled
    crumpled torn broken cracked shattered rusty dusty dirty muddy clean fresh rotten ripe wet dry
    damp soaked frozen icy snowy rainy sunny cloudy foggy misty stormy windy hazy smoky hot cold warm
    cool chilly burning fiery blazing glowing shining dark light bright pale deep shallow empty full
    crowded busy quiet silent loud noisy calm peaceful serene tranquil wild fierce angry happy sad
    lonely gloomy cheerful joyful playful sleepy tired lazy brave proud shy curious friendly scary
    creepy spooky haunted eerie mysterious magical mystical enchanted sacred holy cursed evil wicked
    kind gentle noble royal regal rich poor fancy plain simple complex strange weird odd funny silly
    crazy beautiful ugly handsome pretty elegant graceful clumsy fast slow quick rapid sleek shiny dull
    glossy polished golden silver wooden metal stone glass floating flying falling rising sinking
    hanging standing sitting lying sleeping running walking jumping dancing swimming climbing
    riding reading writing singing playing fighting eating drinking smiling laughing crying looking
    watching holding carrying wearing waiting resting hiding hunting fishing cooking painting
    building burning melting growing blooming twisted tangled woven knitted carved painted printed
    handmade homemade natural artificial digital electric mechanic mechanical robotic cosmic
    celestial underwater underground overgrown abandoned deserted forgotten lost hidden secret
    forbidden distant faraway endless infinite tiny miniature gigantic colossal towering sprawling
    rolling winding steep jagged rocky sandy grassy leafy flowery fruity sweet sour bitter salty
    spicy tasty delicious juicy crispy crunchy creamy cozy comfy homely rustic urban rural tropical
    arctic polar alpine coastal oceanic volcanic lunar solar stellar galactic astral fantastic
    surreal dreamlike nightmarish heavenly hellish divine demonic angelic ghostly skeletal wooden
    feathered scaly winged horned armored armoured masked hooded crowned veiled bearded freckled
    curly wavy braided spiky striped spotted dotted checkered plaid patterned plain transparent
    translucent opaque hollow solid liquid fluid gaseous electric magnetic nuclear toxic poisonous
    sparkly glittery dazzling gleaming glistening radiant luminous fluorescent phosphorescent
    vintage classic timeless primitive tribal exotic foreign native local famous legendary heroic
    epic tragic romantic nostalgic melancholic melancholy dramatic theatrical chaotic orderly neat
    messy tidy cluttered crowded vast open closed locked empty hungry thirsty wounded injured dead
    alive living dying sick healthy strong weak mighty powerful fragile delicate sturdy wealthy
    luxurious humble modest majestic grand splendid glorious gorgeous lush verdant barren arid
    fertile dense sparse quiet
  `,
  actions: `
    walk run jump fly swim climb ride sit stand lie sleep dream dance sing play fight read write paint
    draw cook eat drink hug kiss hold carry throw catch kick push pull lift drop fall rise float sink
    drift glide soar dive leap crawl chase hunt hide seek search explore travel journey wander roam
    sail row drive race fish hike camp build craft sew knit weave carve sculpt bake grow plant pick
    harvest pour spill splash melt freeze burn glow shine sparkle shimmer reflect wave smile laugh cry
    scream shout whisper talk listen watch look stare gaze wait rest relax meditate pray celebrate
    marching flying running jumping swimming sailing soaring diving falling floating drifting glowing
    burning exploding erupting flowing crashing breaking shining reflecting blooming growing singing
    dancing laughing smiling reading sleeping dreaming waiting watching standing sitting walking
    fighting riding hunting fishing cooking eating drinking holding playing painting drawing writing
  `,
  misc: `
    photo image picture scene view shot closeup portrait landscape poster cover wallpaper background
    pattern design logo icon symbol sign letter number word words text title page map chart diagram
    story tale legend myth fairytale dream nightmare memory vision idea concept spirit soul magic spell
    curse blessing prayer ritual ceremony festival party wedding funeral parade battle war peace love
    hope fear joy sorrow anger silence music song dance game sport race journey adventure quest voyage
    expedition mission escape chase rescue victory defeat celebration holiday christmas halloween
    birthday gift present surprise secret mystery puzzle riddle clue treasure reward prize fortune
    luck chance fate destiny time history future past present era age century decade year month week
    hour minute moment second life death birth youth childhood history science technology energy power
    force gravity motion speed sound noise echo rhythm melody harmony color shape form line circle
    square triangle rectangle oval sphere cube pyramid cone cylinder spiral swirl wave zigzag stripe
    stripes dot dots spot spots grid maze web net knot loop curve edge corner point tip surface layer
    piece part half whole pair group set row pile stack heap bunch cluster swarm flock herd pack school
    colony hive crowd army fleet
  `,
};

/** Nouns whose plural is worth a token of its own (added only where the dictionary has it). */
const PLURALISABLE = `
  animal bird horse cow sheep goat pig rabbit fox wolf bear lion tiger elephant monkey deer duck swan
  owl eagle dolphin whale shark turtle frog snake dragon butterfly bee ant spider insect flower tree
  mountain hill cloud star planet river lake wave rock stone island valley cave field road street city
  town village house building tower castle palace temple church bridge door window wall gate room
  car boat ship plane train bike robot machine tool sword shield knight warrior soldier king queen
  princess prince child girl boy woman man person friend dancer musician painter artist candle lamp
  book letter map chair table bed pillow cup bottle jar bowl plate basket box toy doll ball balloon
  kite hat dress shirt coat glove boot shoe ring jewel coin key bell clock mirror painting picture
  photo statue column pillar arch light shadow flame color pattern shape circle line dot
  cake cookie apple orange lemon grape cherry berry mushroom leaf branch root petal feather wing eye
  hand finger tooth bone skull crystal gem pearl shell mask flag banner sign lantern cloud wave
`;

function pluralCandidates(noun: string): string[] {
  if (/(s|x|z|ch|sh)$/.test(noun)) return [noun + 'es'];
  if (/[^aeiou]y$/.test(noun)) return [noun.slice(0, -1) + 'ies'];
  if (/f$/.test(noun)) return [noun.slice(0, -1) + 'ves', noun + 's'];
  if (/fe$/.test(noun)) return [noun.slice(0, -2) + 'ves', noun + 's'];
  if (noun === 'man') return ['men'];
  if (noun === 'woman') return ['women'];
  if (noun === 'child') return ['children'];
  if (noun === 'person') return ['people'];
  if (noun === 'tooth') return ['teeth'];
  if (noun === 'sheep' || noun === 'deer') return [];
  return [noun + 's'];
}

function words(block: string): string[] {
  return block.split(/\s+/).filter((w) => w.length > 0);
}

/** All candidate words (before the dictionary check), lowercase, deduplicated. */
export function candidateWords(): string[] {
  const out = new Set<string>();
  for (const w of words(FUNCTION_WORDS)) out.add(w);
  for (const block of Object.values(CATEGORIES)) for (const w of words(block)) out.add(w);
  for (const n of words(PLURALISABLE)) for (const p of pluralCandidates(n)) out.add(p);
  return [...out];
}

/**
 * The word list: candidates the dictionary spells exactly (lowercase, letters only, at most 16
 * letters), sorted in code-unit order.
 */
export function buildWordList(dictionary: Iterable<string>): string[] {
  const dict = new Set<string>();
  for (const w of dictionary) dict.add(w.trim());
  return candidateWords()
    .filter((w) => /^[a-z]{1,16}$/.test(w) && dict.has(w))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Reads a newline-separated word list (such as models/demo/words.txt). */
export function readWordList(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
}

/** models/demo/words.txt relative to this source file. */
export function defaultWordListPath(): string {
  // Walk up from this module to the folder holding models/demo/words.txt: the source tree, an
  // electron-vite bundle in out/main/ and a packaged app (models/ shipped at the app root) alike.
  const rel = path.join('models', 'demo', 'words.txt');
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, rel);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../..', rel);
    dir = parent;
  }
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const dict = readFileSync(DICTIONARY_PATH, 'utf8').split('\n');
  const list = buildWordList(dict);
  const target = process.argv[2] ?? defaultWordListPath();
  safeWriteFileSync(target, list.join('\n') + '\n', { what: 'the word list' });
  const missing = candidateWords().filter((w) => !list.includes(w));
  process.stderr.write(`${list.length} words -> ${target} (${missing.length} candidates not in the dictionary)\n`);
}
