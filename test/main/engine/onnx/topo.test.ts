import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../src/main/engine/errors.js';
import { DataType } from '../../../../src/main/engine/onnx/dtype.js';
import { emptyGraph, type Graph, type Node } from '../../../../src/main/engine/onnx/ir.js';
import { consumers, producers, topoSort } from '../../../../src/main/engine/onnx/topo.js';

const node = (name: string, opType: string, inputs: string[], outputs: string[]): Node => ({
  name,
  opType,
  domain: '',
  inputs,
  outputs,
  attrs: {},
});

function graph(nodes: Node[]): Graph {
  const g = emptyGraph('g');
  g.inputs.push({ name: 'x', dtype: DataType.FLOAT, shape: [2] });
  g.initializers.set('w', { name: 'w', dtype: DataType.FLOAT, dims: [2], raw: new Uint8Array(8) });
  g.nodes = nodes;
  return g;
}

describe('topoSort', () => {
  it('orders producers first and keeps an already sorted graph unchanged', () => {
    const sorted = [
      node('a', 'Relu', ['x'], ['a']),
      node('b', 'Add', ['a', 'w'], ['b']),
      node('c', 'Neg', ['x'], ['c']),
      node('d', 'Add', ['b', 'c'], ['d']),
    ];
    expect(topoSort(graph(sorted)).map((n) => n.name)).toEqual(['a', 'b', 'c', 'd']);
    const shuffled = [sorted[3]!, sorted[1]!, sorted[2]!, sorted[0]!];
    // Stable: among ready nodes the earliest in the list goes first (c before a).
    expect(topoSort(graph(shuffled)).map((n) => n.name)).toEqual(['c', 'a', 'b', 'd']);
  });

  it('accepts omitted optional inputs and nodes reading a value twice', () => {
    const g = graph([node('s', 'Mul', ['x', 'x'], ['s']), node('r', 'Resize', ['s', '', '', 'w'], ['r'])]);
    expect(topoSort(g).map((n) => n.name)).toEqual(['s', 'r']);
  });

  it('names an input nothing produces', () => {
    const g = graph([node('a', 'Relu', ['x'], ['a']), node('b', 'Add', ['a', 'ghost'], ['b'])]);
    expect(() => topoSort(g)).toThrow(EngineError);
    expect(() => topoSort(g)).toThrow(/'ghost'.*Add node 'b'/);
  });

  it('names the nodes of a cycle', () => {
    const g = graph([
      node('a', 'Relu', ['x'], ['a']),
      node('p', 'Add', ['a', 'r'], ['p']),
      node('q', 'Neg', ['p'], ['q']),
      node('r', 'Abs', ['q'], ['r']),
    ]);
    let msg = '';
    try {
      topoSort(g);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/cycle/);
    for (const n of ["'p'", "'q'", "'r'"]) expect(msg).toContain(n);
    expect(msg).not.toContain("'a'");
  });

  it('treats values a subgraph reads from the outer scope as inputs', () => {
    const body = emptyGraph('then');
    body.nodes.push(node('inner', 'Identity', ['late'], ['o']));
    body.outputs.push({ name: 'o', dtype: DataType.FLOAT });
    const ifNode: Node = {
      ...node('if', 'If', ['c'], ['y']),
      attrs: { then_branch: { kind: 'graph', value: body }, else_branch: { kind: 'graph', value: body } },
    };
    const g = graph([ifNode, node('late', 'Relu', ['x'], ['late']), node('c', 'Less', ['x', 'w'], ['c'])]);
    expect(topoSort(g).map((n) => n.name)).toEqual(['late', 'c', 'if']);
    expect(
      consumers(g)
        .get('late')!
        .map((n) => n.name),
    ).toEqual(['if']);
  });
});

describe('producers / consumers', () => {
  it('map values to nodes', () => {
    const g = graph([node('a', 'Split', ['x'], ['a0', 'a1']), node('b', 'Add', ['a0', 'a0'], ['b']), node('c', 'Mul', ['a0', 'w'], ['c'])]);
    const p = producers(g);
    expect(p.get('a1')!.name).toBe('a');
    expect(p.has('x')).toBe(false);
    const c = consumers(g);
    expect(c.get('a0')!.map((n) => n.name)).toEqual(['b', 'c']);
    expect(c.get('w')!.map((n) => n.name)).toEqual(['c']);
    expect(c.has('a1')).toBe(false);
  });
});
