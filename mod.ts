import { Command } from "commander";
import fc from "fast-check";
console.log(typeof Command, typeof fc);
