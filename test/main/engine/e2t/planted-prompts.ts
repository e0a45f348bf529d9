/**
 * Planted prompts over the demo vocabulary (models/demo/words.txt) and a start that drops or
 * replaces words. Kept with the tests (not imported from the bench) so they pin their own cases.
 */
export const PLANTED: { truth: string; start: string }[] = [
  { truth: 'a red cat on a blue sofa', start: 'a green cat on a sofa' },
  { truth: 'an old house in the forest', start: 'an old house forest' },
  { truth: 'a small boat on the lake at sunset', start: 'a small car on the lake' },
  { truth: 'a white horse running on the beach', start: 'a white horse on the beach' },
  { truth: 'a dragon flying over the sea', start: 'a bird flying over the sea' },
  { truth: 'a lighthouse in a storm', start: 'a castle in a storm' },
  { truth: 'a portrait of a woman with a yellow hat', start: 'a portrait of a woman with a hat' },
  { truth: 'a robot in the city at night', start: 'a robot in the city' },
  { truth: 'a castle on a snowy mountain', start: 'a castle on a mountain' },
  { truth: 'a green tree in a garden', start: 'a tree in a garden' },
  { truth: 'a brown dog with a red ball', start: 'a black dog with a ball' },
  { truth: 'flowers in a glass vase', start: 'flowers in a vase' },
  { truth: 'a girl reading a book', start: 'a boy reading a book' },
  { truth: 'a bowl of fruit on a table', start: 'a bowl of soup on a table' },
  { truth: 'an oil painting of a ship', start: 'a painting of a ship' },
  { truth: 'a watercolor of a village', start: 'a watercolor village' },
  { truth: 'a cup of coffee on a wooden desk', start: 'a cup of tea on a desk' },
  { truth: 'a fox in the snow', start: 'a wolf in the snow' },
  { truth: 'a red train on a stone bridge', start: 'a train on a bridge' },
  { truth: 'a photo of a cat on the grass', start: 'a photo of a dog on grass' },
  { truth: 'an owl sitting on a branch', start: 'an owl on a branch' },
  { truth: 'a city street in the rain', start: 'a city street in the snow' },
  { truth: 'a knight with a sword', start: 'a knight with a shield' },
  { truth: 'a bridge over a river at dawn', start: 'a bridge over a river' },
];
