// Builds tailwind.css (shipped, so tests need no npm):
//   printf '@tailwind base;@tailwind components;@tailwind utilities;' > input.css
//   npx tailwindcss@3.4.9 -c tailwind.config.js -i input.css -o tailwind.css --minify
module.exports = {
  content: ["./index.html"],
  safelist: [
    { pattern: /^text-(xs|sm|base|lg|xl|2xl|3xl)$/ },
    { pattern: /^font-(light|normal|medium|semibold|bold|extrabold)$/ },
    { pattern: /^tracking-/ }, { pattern: /^leading-/ },
    { pattern: /^(text|bg|border)-(slate|sky|amber)-(50|100|200|300|400|500|600|700|800|900)$/ },
    { pattern: /^opacity-(25|50|75|100)$/ }, { pattern: /^px-[0-8]$/ },
    { pattern: /^border(-[0248])?$/ }, { pattern: /^rounded(-(none|sm|md|lg|xl|2xl|full))?$/ },
    { pattern: /^text-(left|center|right)$/ }, { pattern: /^shadow(-(sm|md|lg|xl|none))?$/ },
    "uppercase", "lowercase", "capitalize", "underline", "overline", "line-through",
    "flex-row", "flex-col", "flex-row-reverse", "flex-col-reverse", "visible", "invisible",
  ],
};
